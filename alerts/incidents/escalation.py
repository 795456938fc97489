"""Escalation: run each incident's frozen ladder, step by step, exactly once.

The ladder is the department's policy (``alerts.incidents.escalation_policy``) copied onto the
incident when it opened (``incidents.escalation_policy``, Grafana OnCall's escalation
snapshot): a later edit never changes the ladder of an incident already running. *Who*
a role means is read from the registry when the step runs, so a changed on-call
contact is the one paged. An acknowledgement (or resolution) stops the ladder.

``run_due`` runs the steps that are due, each exactly once across restarts and any
number of workers: lock the incident row (``FOR UPDATE SKIP LOCKED``), compare the
step token (``escalation_step``), write the timeline entry, advance the step and create
one pending send per recipient (``notification_sends``), COMMIT. Then each page on its
own: claim its send (pending → sending) and write its ``notification.attempt`` entry,
COMMIT, send, and record the outcome. So a page is sent at most once per (incident,
step, recipient); a crash after the step's commit leaves the pages not yet claimed
pending, and the next run sends them (none is lost); a crash during a send leaves its
attempt on the timeline, so a page delivered just before a crash is never missing from
it. Silences and maintenance windows (a ``SqlMuter`` over both, ``alerts.maintenance.muter``)
suppress the notifications of a step, never the step, the incident or its breach.

One incident never holds up the others: whatever its step raises (a policy that cannot
be computed, a malformed registry entry, a bug) is rolled back to a savepoint, logged,
written to its timeline (``escalation.error``) and to the audit log, and its ladder
stops there — the incident stays open and its breaches are still recorded — while
every other incident's steps run. Only a lost database connection ends the run.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from alerts.incidents import ack_link, sla, urls
from alerts.incidents.escalation_policy import Policy, PolicyError, Step
from alerts.maintenance.muter import HOLDS_PAGES, SqlMuter
from alerts.model import Notification, Outcome, Recipient, Severity
from alerts.notifiers.message import MESSAGES, join, named
from citybrain.kernel import audit
from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import Language
from citybrain.kernel.settings import Settings
from schemas.names import names_for

Connection = psycopg.Connection[Any]
log = logging.getLogger(__name__)
SYSTEM = audit.Actor(id="system", role=None)
# What says the database itself is unusable (not one incident): these end the run, the
# caller retries it; anything else is that incident's failure.
_DATABASE_DOWN = (psycopg.OperationalError, psycopg.InterfaceError, psycopg.errors.TransactionRollback)

# --- who a step reaches -------------------------------------------------------------

@dataclass(frozen=True)
class Resolution:
    recipients: tuple[Recipient, ...]
    unresolved: tuple[str, ...]        # why a target reached nobody, one line each


def _contact_recipients(contact: Mapping[str, Any], role: str) -> Recipient | None:
    # Only e-mail reaches a person directly: an ``im`` id needs the vendor's app API and
    # credentials (not built); department robots are listed under the policy's groups.
    email = contact.get("email")
    if not email:
        return None
    return Recipient(name=str(contact.get("name") or email), role=role, channel="email", address=str(email))


def resolve(conn: Connection, policy: Policy, step: Step, department_id: str | None,
            settings: Settings) -> Resolution:
    """The recipients of one step, from the registry as it is now and the policy's groups."""
    found: list[Recipient] = []
    missing: list[str] = []
    own: dict[str, Any] = {}
    if department_id is not None:
        row = conn.execute("SELECT first_responsible, contacts FROM departments WHERE department_id = %s",
                           (department_id,)).fetchone()
        if row is not None:
            own = {"first_responsible": row[0] or {}, "contacts": row[1] or []}
    for target in step.notify:
        reached: list[Recipient] = []
        if target == "group":
            reached = [Recipient(g.name, "group", g.channel, g.address) for g in policy.groups]
            why = "the policy lists no group channels"
        elif target == "duty_supervisor":
            reached = [r for c in _supervisors(conn, settings)
                       if (r := _contact_recipients(c, target)) is not None]
            where = settings.operations_centre_department or "any department"
            why = f"no duty_supervisor contact with an e-mail in {where}"
        elif department_id is None:
            why = f"no {target}: the incident has no owning department"
        else:
            people = [c for c in own.get("contacts", []) if c.get("role") == target]
            if target == "first_responsible" and own.get("first_responsible"):
                people.insert(0, own["first_responsible"])
            reached = [r for c in people if (r := _contact_recipients(c, target)) is not None]
            why = (f"no {target} contact with an e-mail in department {department_id}" if own
                   else f"department {department_id} is not in the registry")
        if not reached:
            missing.append(why)
        found.extend(reached)
    # One message per address even when a person holds two roles; the first role wins.
    by_address: dict[tuple[str, str], Recipient] = {}
    for r in found:
        by_address.setdefault((r.channel, r.address), r)
    return Resolution(tuple(by_address.values()), tuple(missing))


def _supervisors(conn: Connection, settings: Settings) -> list[dict[str, Any]]:
    # The operations centre's duty supervisors: the named department's, or (unset) every
    # department's duty_supervisor contacts — the role exists only for the centre's staff.
    rows = conn.execute(
        "SELECT c FROM departments d, jsonb_array_elements(d.contacts) c"
        " WHERE c->>'role' = 'duty_supervisor'"
        " AND (%(dept)s::text IS NULL OR d.department_id = %(dept)s) ORDER BY d.department_id",
        {"dept": settings.operations_centre_department},
    ).fetchall()
    return [r[0] for r in rows]


# --- running due steps ----------------------------------------------------------------

ConnFactory = Callable[[], AbstractContextManager[Connection]]
Entry = tuple[str, dict[str, Any]]
# Extra timeline entries a notifier writes for one delivery (each attempt, with its kind).
Record = Callable[[str, dict[str, Any]], None]
NotifyFn = Callable[[Notification, Recipient, Record], Outcome]


@dataclass(frozen=True)
class Delivery:
    recipient: Recipient
    outcome: Outcome


@dataclass(frozen=True)
class StepRun:
    incident_id: int
    step: int
    due_at: datetime
    targets: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    unresolved: tuple[str, ...]
    silenced: bool
    breach_recorded: bool
    deliveries: tuple[Delivery, ...] = ()
    error: str | None = None           # the step failed: why (its ladder stopped there)

    @property
    def warning(self) -> bool:
        return not self.recipients


def shown_address(recipient: Recipient) -> str:
    # Robot webhooks carry their credential in the URL (query key, path token): the
    # timeline keeps the scheme and host only.
    if "://" not in recipient.address:
        return recipient.address
    parts = urlsplit(recipient.address)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/…"


def _who(r: Recipient) -> dict[str, str]:
    return {"name": r.name, "role": r.role, "channel": r.channel, "address": shown_address(r)}


def _event(conn: Connection, incident_id: int, at: datetime, kind: str, detail: dict[str, Any]) -> None:
    conn.execute("INSERT INTO incident_events (incident_id, at, actor, kind, detail)"
                 " VALUES (%s, %s, 'system', %s, %s)", (incident_id, at, kind, Jsonb(detail)))


_COLUMNS = """incident_id, escalation_step, next_escalation_at, escalation_policy, department_id,
       asset_id, title, severity, status, opened_at, response_due_at, reopened_count"""
_DUE = f"""
SELECT {_COLUMNS}
  FROM incidents
 WHERE status = 'triggered' AND next_escalation_at <= %s
 ORDER BY next_escalation_at, incident_id
 LIMIT 1
   FOR UPDATE SKIP LOCKED
"""


# A storm's assets named in a notification's text; the others are counted.
NAMED_IN_TEXT = 20


def _assets(conn: Connection, incident_id: int, asset_id: str | None) -> tuple[list[str], int]:
    """The incident's asset ids (its own asset first, at most NAMED_IN_TEXT) and how many it has."""
    rows = conn.execute(
        "SELECT asset_id, count(*) OVER () FROM incident_assets WHERE incident_id = %s"
        " ORDER BY asset_id = %s DESC, asset_id LIMIT %s", (incident_id, asset_id, NAMED_IN_TEXT)).fetchall()
    ids = [str(r[0]) for r in rows]
    total = int(rows[0][1]) if rows else 0
    if asset_id is not None and asset_id not in ids:
        ids, total = [asset_id, *ids[:NAMED_IN_TEXT - 1]], total + 1
    return ids, total


def _text(assets: tuple[tuple[str, str], ...], total: int, language: Language) -> str:
    """What happened beyond the title, in the settings' language: a storm's assets by name.

    The facts (severity, names, times, the step, the links) are the notifiers' to render
    (``alerts.notifiers.message``); nothing here tells anyone to run a command.
    """
    if total <= 1:
        return ""
    t = MESSAGES.translator(language)
    listed = join(t, [named(name, ident) for ident, name in assets])
    if total > len(assets):
        listed = t.gettext("{names} and {count} more").format(names=listed, count=total - len(assets))
    return t.gettext("Affected assets ({count}): {names}").format(count=total, names=listed)


def _next_due(conn: Connection, now: datetime) -> tuple[Any, ...] | None:
    """Lock the next due incident (the caller's transaction holds the lock)."""
    while True:
        row: tuple[Any, ...] | None = conn.execute(_DUE, (now,)).fetchone()
        if row is None:
            return None
        steps = row[3].get("steps") if isinstance(row[3], dict) else None
        if not isinstance(steps, list) or int(row[1]) < len(steps):
            return row   # a malformed snapshot too: its step fails, reported like any failure
        # Past the last step: nothing more to run; clear the timer so the scan skips it.
        conn.execute("UPDATE incidents SET next_escalation_at = NULL WHERE incident_id = %s", (row[0],))


def frozen_policy(frozen: Any) -> Policy:
    """The policy frozen on an incident when it opened (``PolicyError`` when unusable)."""
    try:
        return Policy.model_validate({k: v for k, v in (frozen or {}).items() if k != "source"})
    except (ValidationError, AttributeError) as exc:
        raise PolicyError(f"the incident's frozen escalation policy is missing or invalid: {exc}") from exc


def _notification(conn: Connection, row: tuple[Any, ...], step: Step, index: int,
                  settings: Settings) -> Notification:
    """The step's notification, with the registry's names as they are now, in the settings' language."""
    incident_id, department_id, asset_id = int(row[0]), row[4], row[5]
    ids, total = _assets(conn, incident_id, asset_id)
    names = names_for(conn, settings.language, department_ids=[department_id] if department_id else [],
                      asset_ids=ids)
    assets = tuple((i, names.asset(i) or i) for i in ids)
    return Notification(
        incident_id=incident_id, title=row[6], severity=Severity(row[7]), status=row[8],
        department_id=department_id, opened_at=row[9], text=_text(assets, total, settings.language),
        # The one address of an incident page (issue #17's console will move it there).
        incident_url=urls.incident_url(settings.public_url, incident_id),
        # Each recipient's signed link is added in ``for_recipient``; with no key there is
        # none, and the message says where to acknowledge instead.
        ack_url=None,
        step=index,
        department_name=names.department(department_id),
        assets=assets, asset_count=total,
        response_due_at=row[10],
        targets=tuple(step.notify),
    )


@dataclass(frozen=True)
class _Claimed:
    run: StepRun
    notification: Notification | None
    sends: tuple[int, ...] = ()        # notification_sends ids, one per recipient in order


def _claim(conn: Connection, row: tuple[Any, ...], now: datetime, settings: Settings) -> _Claimed:
    """Record the locked incident's step, advance its token and create its pending sends;
    the caller's commit follows."""
    incident_id, index, due_at, frozen = int(row[0]), int(row[1]), row[2], row[3]
    policy = frozen_policy(frozen)
    step = policy.steps[index]
    department_id, asset_id = row[4], row[5]
    found = resolve(conn, policy, step, department_id, settings)
    quiet = SqlMuter(conn, HOLDS_PAGES).mutes(asset_id, now, department_id=department_id)
    breach = bool(step.record_breach and sla.record_breaches(conn, now, incident_id=incident_id,
                                                             kinds=("response",)))
    _event(conn, incident_id, now, "escalation.step", {
        "step": index, "due_at": due_at.isoformat(), "after_minutes": step.after_minutes,
        "targets": list(step.notify), "recipients": [_who(r) for r in found.recipients],
        "unresolved": list(found.unresolved), "silenced": quiet, "policy": frozen.get("source"),
    })
    if not found.recipients:
        _event(conn, incident_id, now, "escalation.warning", {
            "step": index, "warning": f"step {index} reached nobody", "unresolved": list(found.unresolved)})
    following = policy.steps[index + 1] if index + 1 < len(policy.steps) else None
    next_at = (due_at + timedelta(minutes=following.after_minutes - step.after_minutes)
               if following is not None else None)
    advanced = conn.execute(
        "UPDATE incidents SET escalation_step = %s, next_escalation_at = %s"
        " WHERE incident_id = %s AND escalation_step = %s AND status = 'triggered'",
        (index + 1, next_at, incident_id, index),
    )
    if advanced.rowcount != 1:   # cannot happen while we hold the row lock; never page on doubt
        raise StoreError(f"incident {incident_id}: escalation step {index} token changed under a lock")
    run = StepRun(incident_id, index, due_at, tuple(step.notify), found.recipients, found.unresolved,
                  quiet, breach)
    if quiet or not found.recipients:
        return _Claimed(run, None)
    notification = _notification(conn, row, step, index, settings)
    sends = []
    for r in found.recipients:
        sent = conn.execute(
            "INSERT INTO notification_sends (incident_id, round, step, channel, address, recipient, state,"
            " created_at) VALUES (%s, %s, %s, %s, %s, %s, 'pending', %s)"
            " ON CONFLICT (incident_id, round, step, channel, address) DO NOTHING RETURNING send_id",
            (incident_id, int(row[11]), index, r.channel, r.address,
             Jsonb({"name": r.name, "role": r.role, "channel": r.channel, "address": r.address}), now),
        ).fetchone()
        if sent is None:   # cannot happen while the step token guards the step; never page on doubt
            raise StoreError(f"incident {incident_id}: step {index} already has a send for {_who(r)}")
        sends.append(int(sent[0]))
    return _Claimed(run, notification, tuple(sends))


def _failed(conn: Connection, row: tuple[Any, ...], now: datetime, exc: BaseException) -> StepRun:
    """Report one incident's failed step (timeline, audit) and stop its ladder there."""
    incident_id, index, due_at = int(row[0]), int(row[1]), row[2]
    error = f"{type(exc).__name__}: {exc}"[:2000]
    detail = {"step": index, "due_at": due_at.isoformat() if due_at else None, "error": error,
              "ladder": "stopped: fix the cause, then reopen the incident or page by hand"}
    _event(conn, incident_id, now, "escalation.error", detail)
    audit.record(conn, SYSTEM, "incident.escalation_error", str(incident_id), detail, at=now)
    conn.execute("UPDATE incidents SET next_escalation_at = NULL WHERE incident_id = %s", (incident_id,))
    return StepRun(incident_id, index, due_at, (), (), (f"escalation failed: {error}",), False, False,
                   error=error)


def for_recipient(notification: Notification, recipient: Recipient, settings: Settings,
                  now: datetime) -> Notification:
    """The step's notification with this recipient's own signed acknowledge link, if any."""
    if settings.ack_link_secret is None:
        return notification
    link = ack_link.sign(settings.ack_link_secret.get_secret_value(), notification.incident_id, recipient,
                         expires_at=now + ack_link.LIFETIME)
    return replace(notification, ack_url=ack_link.url(settings.public_url, notification.incident_id, link))


def _deliver(notify: NotifyFn, notification: Notification, recipient: Recipient,
             record: Record, settings: Settings, now: datetime) -> Outcome:
    try:
        return notify(for_recipient(notification, recipient, settings, now), recipient, record)
    except Exception as exc:  # a notifier bug must not stop the ladder: it becomes a failed delivery
        return Outcome(delivered=False, retryable=False,
                       detail=f"notifier raised {type(exc).__name__}: {exc}")


def _send(conn: Connection, send_id: int, notification: Notification, recipient: Recipient,
          notify: NotifyFn, now: datetime, settings: Settings) -> Delivery | None:
    """One page, at most once: claim its send and record the attempt (committed), send,
    record the outcome. None when another run has it or the incident was answered."""
    incident_id, step = notification.incident_id, notification.step
    with conn.transaction():
        row = conn.execute(
            "SELECT i.status FROM notification_sends s JOIN incidents i USING (incident_id)"
            " WHERE s.send_id = %s AND s.state = 'pending' FOR UPDATE OF s SKIP LOCKED",
            (send_id,)).fetchone()
        if row is None:
            return None
        if row[0] != "triggered":
            # Acknowledged or resolved since its step ran (a page resumed after a crash).
            conn.execute("UPDATE notification_sends SET state = 'cancelled', finished_at = %s"
                         " WHERE send_id = %s", (now, send_id))
            _event(conn, incident_id, now, "notification.cancelled",
                   {"step": step, **_who(recipient), "reason": f"incident {row[0]} before it was sent"})
            return None
        conn.execute("UPDATE notification_sends SET state = 'sending', attempted_at = %s WHERE send_id = %s",
                     (now, send_id))
        _event(conn, incident_id, now, "notification.attempt", {"step": step, **_who(recipient)})
    entries: list[Entry] = []

    def collect(kind: str, detail: dict[str, Any]) -> None:
        entries.append((kind, detail))
    outcome = _deliver(notify, notification, recipient, collect, settings, now)
    if not entries:
        # The notifier recorded no attempts of its own: the outcome is the entry.
        entries.append(("notification.delivered" if outcome.delivered else "notification.failed",
                        {"step": step, **_who(recipient), "result": outcome.detail,
                         "attempts": outcome.attempts, "retryable": outcome.retryable}))
    with conn.transaction():
        for kind, detail in entries:
            _event(conn, incident_id, now, kind, detail)
        conn.execute("UPDATE notification_sends SET state = 'done', finished_at = %s, delivered = %s"
                     " WHERE send_id = %s", (now, outcome.delivered, send_id))
    return Delivery(recipient, outcome)


def _deliveries(conn: Connection, claimed: _Claimed, notify: NotifyFn, now: datetime,
                settings: Settings) -> tuple[Delivery, ...]:
    assert claimed.notification is not None
    done = [_send(conn, send_id, claimed.notification, recipient, notify, now, settings)
            for send_id, recipient in zip(claimed.sends, claimed.run.recipients, strict=True)]
    return tuple(d for d in done if d is not None)


def _resume(conn: Connection, now: datetime, notify: NotifyFn, settings: Settings, limit: int) -> int:
    """Send the pages whose step committed but whose run ended before they were claimed
    (a crash, a stop): none is lost. Returns how many were sent."""
    columns = ", ".join(f"i.{c.strip()}" for c in _COLUMNS.split(","))
    with conn.transaction():
        rows = conn.execute(
            f"SELECT s.send_id, s.step, s.recipient, {columns}"
            " FROM notification_sends s JOIN incidents i USING (incident_id)"
            " WHERE s.state = 'pending' ORDER BY s.send_id LIMIT %s", (limit,)).fetchall()
    sent = 0
    for send_id, index, who, *incident in rows:
        try:
            step = frozen_policy(incident[3]).steps[index]
            recipient = Recipient(*(str(who[k]) for k in ("name", "role", "channel", "address")))
            with conn.transaction():
                notification = _notification(conn, tuple(incident), step, index, settings)
            delivery = _send(conn, send_id, notification, recipient, notify, now, settings)
        except _DATABASE_DOWN:
            raise
        except Exception as exc:
            log.exception("escalation: page %s of incident %s cannot be resumed", send_id, incident[0])
            with conn.transaction():
                conn.execute("UPDATE notification_sends SET state = 'cancelled', finished_at = %s"
                             " WHERE send_id = %s AND state = 'pending'", (now, send_id))
                _failed_send(conn, int(incident[0]), index, now, exc)
            continue
        sent += delivery is not None
    return sent


def _failed_send(conn: Connection, incident_id: int, index: int, now: datetime, exc: BaseException) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    detail = {"step": index, "error": error, "ladder": "pages of this step not sent"}
    _event(conn, incident_id, now, "escalation.error", detail)
    audit.record(conn, SYSTEM, "incident.escalation_error", str(incident_id), detail, at=now)


def run_due(conn_factory: ConnFactory, now: datetime, notify: NotifyFn, *, settings: Settings,
            limit: int = 1000) -> list[StepRun]:
    """Run every escalation step due at ``now`` (at most ``limit``); safe with many workers.

    Recipients of one step are notified one after the other, each with the notifier's
    retries, so a dead robot delays the next page by at most the retry budget. Every SLA
    breach due by ``now`` is recorded on the way out (``sla.record_breaches``).
    """
    runs: list[StepRun] = []
    try:
        with conn_factory() as conn:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                # Inside a caller's transaction our commits would be savepoints: pages
                # would go out before the step is durable. Refuse rather than risk it.
                raise StoreError("run_due needs a connection outside any transaction "
                                 "(each step commits before it notifies); commit or use a fresh one")
            while len(runs) < limit:
                with conn.transaction():
                    row = _next_due(conn, now)
                    if row is None:
                        break
                    try:
                        with conn.transaction():   # a savepoint: a failure undoes this step only
                            claimed = _claim(conn, row, now, settings)
                    except _DATABASE_DOWN:
                        raise
                    except Exception as exc:
                        log.exception("escalation of incident %s (step %s) failed; its ladder stops there,"
                                      " the other incidents go on", row[0], row[1])
                        claimed = _Claimed(_failed(conn, row, now, exc), None)
                run = claimed.run
                if claimed.notification is not None:
                    try:
                        run = replace(run, deliveries=_deliveries(conn, claimed, notify, now, settings))
                    except _DATABASE_DOWN:
                        raise
                    except Exception as exc:
                        log.exception("escalation: pages of incident %s (step %s) failed", run.incident_id,
                                      run.step)
                        with conn.transaction():
                            _failed_send(conn, run.incident_id, run.step, now, exc)
                        run = replace(run, error=f"{type(exc).__name__}: {exc}")
                runs.append(run)
            _resume(conn, now, notify, settings, limit)
            # Breaches no step records (resolution deadlines, ladders without a breach
            # step) are swept here, so wherever escalation runs, breaches are recorded.
            sla.record_breaches(conn, now)
    except psycopg.Error as exc:
        raise StoreError(f"escalation failed: {exc}; check the database and `citybrain db migrate`") from exc
    return runs


class NotifierThread:
    """A ``NotifyFn`` over ``alerts.notifiers`` (``deliver`` with retries and back-off).

    The notifiers are async and share one HTTP client, which belongs to the event loop it
    first runs on; so one private loop in a thread serves every call, from whichever
    thread ``run_due`` runs in. Every attempt (``notification.delivered`` / ``.retrying``
    / ``.failed``) becomes a timeline entry.
    """

    def __init__(self, make_registry: Callable[[], Any], *, retry: Any,
                 rng: random.Random | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="notifiers", daemon=True)
        self._thread.start()
        self._retry = retry
        self._rng = rng or random.Random()

        async def build() -> Any:
            return make_registry()
        self._registry = asyncio.run_coroutine_threadsafe(build(), self._loop).result()

    def __call__(self, notification: Notification, recipient: Recipient, record: Record) -> Outcome:
        def audit(attempt: Any) -> None:
            record(str(attempt.kind), dict(attempt.detail()))
        sent = self._registry.deliver(notification, recipient, policy=self._retry, sleep=asyncio.sleep,
                                      audit=audit, rng=self._rng)
        outcome: Outcome = asyncio.run_coroutine_threadsafe(sent, self._loop).result()
        return outcome

    def close(self) -> None:
        closing = getattr(self._registry, "aclose", None)
        if closing is not None:
            asyncio.run_coroutine_threadsafe(closing(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> NotifierThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
