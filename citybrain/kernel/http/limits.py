"""What every request must pass before any route, token check or body parsing sees it.

``RequestGuard`` is an ASGI middleware: it refuses a body larger than the limit with 413
— at once when ``Content-Length`` says so, else as soon as the streamed bytes pass it —
so an unauthenticated 300 MiB upload costs a few KiB of memory, not a gigabyte; and it
refuses with 422 the characters that can never be stored or encoded, wherever they are
(path, query, token, JSON or form body): NUL (PostgreSQL text cannot hold it) and lone
surrogates (not characters; UTF-8 cannot encode them), and in JSON ``Infinity``, ``NaN``
and numbers too large for a float (not JSON, RFC 8259; Python's parser accepts them).
The body is read once here, bounded, and handed on to the app unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citybrain.kernel.http.errors import error_response, problem
from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

MAX_PROBLEMS = 20
_MAX_DEPTH = 64   # JSON nesting: no route takes more than a few levels


class _NotFinite(ValueError):
    pass


def _constant(name: str) -> float:
    raise _NotFinite(_("{name} is not JSON; give a finite number").format(name=name))


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotFinite(_("{number} is too large for a number; give a finite number").format(
            number=text[:40]))
    return value


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    if "\x00" in value:
        return _("contains a NUL character (U+0000), which text cannot hold")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return _("contains a lone surrogate ({code}), which is not a character").format(
            code=ascii(value[exc.start]))
    return None


# How a problem of a JSON string is said, by what the string is.
def _of_key(why: str) -> str:
    return _("key {problem}").format(problem=why)


def _of_value(why: str) -> str:
    return _("value {problem}").format(problem=why)


def _strings(value: Any, loc: list[str | int]) -> Iterator[tuple[list[str | int], str, str]]:
    """Every string of a parsed JSON document, keys included: where, what, the text."""
    stack: list[tuple[Any, list[str | int]]] = [(value, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            yield where, "value", item
        elif isinstance(item, dict):
            for key, inner in item.items():
                yield [*where, key], "key", key
                stack.append((inner, [*where, key]))
        elif isinstance(item, list):
            stack.extend((inner, [*where, n]) for n, inner in enumerate(item))


def _depth(body: bytes) -> int:
    """An upper bound of the nesting of a JSON text (brackets inside strings counted too)."""
    deepest = level = 0
    for byte in body:
        if byte in b"[{":
            level += 1
            deepest = max(deepest, level)
        elif byte in b"]}":
            level -= 1
    return deepest


def _json_problems(body: bytes) -> list[dict[str, Any]]:
    if _depth(body) > _MAX_DEPTH:
        return [problem(["body"], _("nested more than {levels} levels deep").format(levels=_MAX_DEPTH),
                        "json_invalid")]
    try:
        parsed = json.loads(body, parse_constant=_constant, parse_float=_finite)
    except _NotFinite as exc:
        return [problem(["body"], str(exc), "json_invalid")]
    except ValueError:
        return []   # not JSON at all: the route answers that, as it does for any malformed body
    return [problem(where, _of_key(why) if what == "key" else _of_value(why), "string_unusable")
            for where, what, text in _strings(parsed, ["body"]) if (why := text_problem(text)) is not None]


def _pairs_problems(query: str, place: str) -> list[dict[str, Any]]:
    found = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        why = text_problem(key) or text_problem(value)
        if why is not None:
            found.append(problem([place, key], why, "string_unusable"))
    return found


def _request_problems(scope: Scope, headers: Headers) -> list[dict[str, Any]]:
    found = []
    path = scope.get("path", "")
    if (why := text_problem(path)) is not None:
        found.append(problem(["path"], why, "string_unusable"))
    found += _pairs_problems(scope.get("query_string", b"").decode("latin-1"), "query")
    if "\x00" in headers.get("authorization", ""):
        found.append(problem(["header", "authorization"], _("contains a NUL character"), "string_unusable"))
    return found


def _media_type(headers: Headers) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


class RequestGuard:
    """The body limit and the unusable-character check (see the module docstring).
    ``larger``: POST paths (exactly) that take files, with their own, larger limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger = dict(larger or {})

    def limit(self, scope: Scope) -> int:
        if scope.get("method") == "POST":
            return self.larger.get(scope.get("path", ""), self.max_body_bytes)
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        found = _request_problems(scope, headers)
        if found:
            await error_response(422, found[:MAX_PROBLEMS])(scope, receive, send)
            return
        declared = headers.get("content-length")
        limit = self.limit(scope)
        if declared is not None:
            if not declared.strip().isdigit():
                await error_response(400, _("Content-Length is not a number"))(scope, receive, send)
                return
            if int(declared) > limit:
                await self._too_large(scope, receive, send, limit)
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return   # the client left before sending its body: nobody to answer
            body += message.get("body", b"")
            if len(body) > limit:
                await self._too_large(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break
        if body:
            kind = _media_type(headers)
            if kind in ("", "application/json") or kind.endswith("+json"):
                found = _json_problems(bytes(body))
            elif kind == "application/x-www-form-urlencoded":
                found = _pairs_problems(body.decode("utf-8", "replace"), "body")
            if found:
                await error_response(422, found[:MAX_PROBLEMS])(scope, receive, send)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        message = (_("the request body is larger than {limit} bytes (CITYBRAIN_API_MAX_BODY_BYTES)")
                   if limit == self.max_body_bytes else
                   _("the request body is larger than {limit} bytes (its files may hold "
                     "CITYBRAIN_ASSESSMENT_EVIDENCE_MAX_BYTES together)"))
        await error_response(413, message.format(limit=limit))(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the body read here, then the client's own messages
    (a disconnect) as they come."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
