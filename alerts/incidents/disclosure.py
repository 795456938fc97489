"""What the API shows of the addresses escalation pages: credentials never, personal
contacts only to those allowed to see them.

A robot webhook's URL is its credential (WeCom ``?key=``, DingTalk ``?access_token=``,
Feishu ``/hook/<token>``): once stored it is shown to nobody, in any role — the policy,
the incident's frozen copy of it and the audit log show it redacted
(``alerts.notifiers.transport.redact_address``: host, path, query names). An e-mail
address, phone number or IM handle of a person is personal data: shown to whom the
caller's role allows (``citybrain.kernel.http.access.sees_contacts``), masked for the others.

An admin editing a policy sends back what it read: a group address still redacted is
taken to mean "keep the stored one" (``keep_stored_addresses``), so a credential is
entered once and never has to be read back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from alerts.notifiers.transport import redact_address
from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale
_ = MESSAGES.current

MASK = "***"
REDACTED = "…"          # what redact_address leaves where a credential was
_EMAIL = re.compile(r"[^\s@<>\"'(),;:/]+@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_CONTACT_KEYS = frozenset({"email", "phone", "mobile", "im"})


def credential_free(address: str) -> str:
    """A group's address without its credential (an e-mail address stays as it is)."""
    return redact_address(address) if "://" in address else address


def is_redacted(address: str) -> bool:
    return "://" in address and REDACTED in address


def masked(text: str) -> str:
    """``text`` with every e-mail address's mailbox masked (the domain says whose it is)."""
    return _EMAIL.sub(lambda m: f"{MASK}@{m['domain']}", text)


def shown(value: Any, *, contacts: bool) -> Any:
    """A JSON value (a timeline entry, an incident) as a caller may see it: personal
    contacts masked unless ``contacts``."""
    if contacts:
        return value
    if isinstance(value, str):
        return masked(value)
    if isinstance(value, dict):
        return {k: (MASK if k in _CONTACT_KEYS and isinstance(v, str) and v else shown(v, contacts=False))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shown(v, contacts=False) for v in value]
    return value


def policy_shown(policy: dict[str, Any], *, contacts: bool) -> dict[str, Any]:
    """A policy (or an incident's frozen copy): group credentials redacted for everyone,
    e-mail groups masked unless ``contacts``."""
    groups = [{**g, "address": credential_free(str(g.get("address", "")))}
              if isinstance(g, dict) else g for g in policy.get("groups") or ()]
    out = {**policy, "groups": groups} if "groups" in policy else dict(policy)
    return shown(out, contacts=contacts)  # type: ignore[no-any-return]


def keep_stored_addresses(groups: Iterable[tuple[str, str]],
                          stored: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The full addresses of ``groups`` (channel, address): a redacted one is replaced by
    the stored address of that channel it was redacted from. Returns the addresses and,
    for a redacted address matching none, a problem each."""
    known = {(channel, credential_free(address)): address for channel, address in stored}
    addresses, problems = [], []
    for index, (channel, address) in enumerate(groups):
        if not is_redacted(address):
            addresses.append(address)
            continue
        full = known.get((channel, address))
        if full is None:
            problems.append(f"groups.{index}.address: " + _(
                "{address} is a redacted address that matches no stored group of this channel; give the"
                " full address").format(address=repr(address)))
            full = address
        addresses.append(full)
    return addresses, problems
