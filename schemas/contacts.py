"""A department's roster: the people its escalation pages, and who may sign in with a code.

The roster lives on the department's registry row: ``first_responsible`` (one person) and
``contacts`` (a list). The escalation reaches a contact by e-mail
(``alerts.incidents.escalation.resolve``), the console e-mails one-time codes to the same
addresses (``citybrain.console.codes``), so an address is required and checked here.

Two writers: ``citybrain assets import`` (the registry file; importing a department
replaces its whole roster) and an admin in the console, through ``replace``, which keeps
the registry's shape (``schemas.registry.Contact``) and writes an audit entry in the same
transaction — the names and roles, never the addresses (the audit log is read more
widely than the roster).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, get_args

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citybrain.kernel import audit
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

Connection = psycopg.Connection[Any]
ContactRole = Literal["first_responsible", "oncall", "lead", "duty_supervisor"]
ROLES: tuple[str, ...] = get_args(ContactRole)
# A roster longer than this is a pasted mistake; every escalation step reads it.
MAX_CONTACTS = 50

# Strict on purpose (no quoted local parts, no IP literals, no bare host names): an
# address typed here is one a mail server of the city's will deliver to.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
# Digits with the usual separators, an optional leading + and an extension (x123).
PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{3,28}[0-9](?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ContactsError(CitybrainError):
    """A roster that cannot be stored; ``problems`` says what is wrong, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


class Contact(BaseModel):
    """One person of a roster, as the registry file writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    role: ContactRole
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    im: str | None = Field(default=None, max_length=200, description="WeCom/DingTalk/Feishu user id")

    @field_validator("name", "im")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError(_("must be one line of text"))
        return value or None   # an empty IM id is none


    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        local, _sep, _domain = value.partition("@")
        if EMAIL.fullmatch(value) is None or len(local) > 64:
            raise ValueError(_("{value} is not an e-mail address (name@example.gov.cn)").format(
                value=repr(value)))
        return value

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
            if value is not None and PHONE.fullmatch(value) is None:
                raise ValueError(_("{value} is not a phone number (digits, spaces, + - ( ) allowed)").format(
                    value=repr(value)))
        return value


def _problem(row: int, exc: ValidationError) -> list[str]:
    found = []
    for e in exc.errors():
        field = ".".join(str(p) for p in e["loc"]) or "contact"
        message = e["msg"].removeprefix("Value error, ")
        found.append(_("row {row}: {field}: {message}").format(row=row, field=field, message=message))
    return found


def validate(rows: Sequence[Mapping[str, Any] | Contact]) -> list[Contact]:
    """The roster's contacts, or ``ContactsError`` naming every problem (rows count from 1)."""
    contacts: list[Contact] = []
    problems: list[str] = []
    for number, row in enumerate(rows, start=1):
        if isinstance(row, Contact):
            contacts.append(row)
            continue
        try:
            contacts.append(Contact.model_validate(dict(row)))
        except ValidationError as exc:
            problems.extend(_problem(number, exc))
    if len(rows) > MAX_CONTACTS:
        problems.append(_("a roster holds at most {most} people, got {count}").format(
            most=MAX_CONTACTS, count=len(rows)))
    if not problems and not any(c.role == "first_responsible" for c in contacts):
        problems.append(_("a department needs its first responsible person (the registry requires one): "
                          "give one row the role first responsible"))
    if problems:
        raise ContactsError(problems)
    return contacts


def stored(conn: Connection, department_id: str) -> list[dict[str, Any]] | None:
    """The roster as stored: the first responsible person first, then the contacts; None
    for an unknown department. Rows are as the registry wrote them (not validated here)."""
    row = conn.execute("SELECT first_responsible, contacts FROM departments WHERE department_id = %s",
                       (department_id,)).fetchone()
    if row is None:
        return None
    first, others = row
    rows = [{**first, "role": "first_responsible"}] if isinstance(first, dict) and first else []
    return rows + [c for c in (others or []) if isinstance(c, dict)]


def replace(conn: Connection, department_id: str, contacts: Sequence[Mapping[str, Any] | Contact],
            actor: audit.Actor, *, now: datetime) -> list[Contact]:
    """Replace a department's roster (validated) with its audit entry, in one transaction.

    The first row of role ``first_responsible`` becomes the department's first responsible
    person; every other row (a second first responsible too, as the registry allows) is a
    contact, in the order given."""
    valid = validate(contacts)
    first = next(c for c in valid if c.role == "first_responsible")
    others = [c for c in valid if c is not first]
    dump: dict[str, Any] = {"mode": "json", "exclude_none": True}
    with conn.transaction():
        cur = conn.execute(
            "UPDATE departments SET first_responsible = %s, contacts = %s, updated_at = %s"
            " WHERE department_id = %s",
            (Jsonb(first.model_dump(**dump)), Jsonb([c.model_dump(**dump) for c in others]), now,
             department_id))
        if cur.rowcount != 1:
            raise ContactsError([_("unknown department {department}; import the registry first").format(
                department=repr(department_id))])
        audit.record(conn, actor, "registry.contacts", department_id,
                     {"contacts": [{"role": c.role, "name": c.name} for c in [first, *others]]}, at=now)
    return [first, *others]
