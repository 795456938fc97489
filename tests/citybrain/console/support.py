"""Signing a TestClient in to the console as a person with a token, as a browser would:
the sign-in page (its form cookie), the form, then the session's anti-forgery value read
from a page's sign-out form."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Sequence
from email.message import EmailMessage
from html import unescape
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from tests.alerts.incidents.loopback import Mail

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_FORM = re.compile(r'name="form_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no anti-forgery value on the page"
    return found.group(1)


def form_token(client: TestClient) -> str:
    page = client.get("/console/sign-in")
    assert page.status_code == 200, page.text
    found = _FORM.search(page.text)
    assert found is not None
    return found.group(1)


def sign_in_with(client: TestClient, clear: str) -> str:
    """Sign in with a token's clear text; the session's csrf value."""
    done = client.post("/console/sign-in", data={"token": clear, "form_token": form_token(client),
                                                 "next": "/console/"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    mine = client.get("/console/account")
    assert mine.status_code == 200, mine.text
    return csrf_of(mine.text)


def sign_in(client: TestClient, db: psycopg.Connection[Any], role: Role, department: str | None = None,
            name: str = "测试员") -> str:
    """A new token for ``role`` (and ``department``), signed in; the csrf value."""
    _, clear = tokens.create(db, role, department=department, name=name, created_by="test")
    return sign_in_with(client, clear)


def code_for(mails: Sequence[Mail], address: str) -> str:
    """The six-digit code of the latest mail to ``address`` (``tests.alerts.incidents.loopback``)."""
    for mail in reversed(mails):
        if address in mail.to:
            parsed = email.message_from_string(mail.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            body = parsed.get_body(("plain",))
            assert body is not None
            found = re.search(r"\b([0-9]{6})\b", body.get_content())
            assert found is not None, body.get_content()
            return found.group(1)
    raise AssertionError(f"no mail to {address}; got {[m.to for m in mails]}")


def text_of(html: str) -> str:
    """The page's words, one space between them (tags dropped)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def section(html: str, ident: str) -> str:
    """The inside of the page's card (a ``section`` or ``div``) with this id."""
    found = re.search(rf'<(section|div) class="[^"]*" id="{ident}">(.*?)</section>', html, re.S)
    assert found is not None, f"no section {ident}"
    return found.group(2)
