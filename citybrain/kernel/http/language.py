"""The language of a request: its ``Accept-Language`` when that names one of ours, else
the server's CITYBRAIN_LANGUAGE.

``RequestLanguage`` is an ASGI middleware, the outermost of the app's own: it makes the
request's language current (``use_language``) while the request is handled, so every
error ``detail`` — the request guard's, the token and access checks', a route's, a
domain's raised deep down — is written in it. Ids, field names, the ``type`` of a 422
problem and every JSON key stay English whatever the language.

The header is read simply: each language range with its ``q`` (1 when absent; 0 means
"not this one"), the highest ``q`` first and, between equals, the first listed; ``zh``
and any ``zh-*`` mean zh-CN (the only Chinese there is), ``en`` and any ``en-*`` mean en;
``*`` and every other language are passed over, and a header naming neither gives the
server's language.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from citybrain.kernel.i18n import Language, use_language

_PRIMARY: Final[dict[str, Language]] = {"zh": "zh-CN", "en": "en"}
_MAX_RANGES = 32   # a header listing more is read as far as that


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, eq, value = param.partition("=")
        if eq and name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0   # NaN and out-of-range values too
    return 1.0


def accepted_language(header: str | None, default: Language) -> Language:
    """The language of ours an ``Accept-Language`` value prefers, else ``default``."""
    if not header:
        return default
    found: list[tuple[float, int, Language]] = []
    for position, item in enumerate(header.split(",")[:_MAX_RANGES]):
        tag, _sep, params = item.partition(";")
        language = _PRIMARY.get(tag.strip().lower().split("-", 1)[0])
        q = _quality(params)
        if language is not None and q > 0:
            found.append((-q, position, language))
    return min(found)[2] if found else default


class RequestLanguage:
    """Makes the request's language current while the app handles it (module docstring)."""

    def __init__(self, app: ASGIApp, default: Language) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        language = accepted_language(Headers(scope=scope).get("accept-language"), self.default)
        with use_language(language):
            await self.app(scope, receive, send)
