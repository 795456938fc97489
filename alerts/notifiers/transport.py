"""One HTTP POST and what its result means for retrying.

The rule (architecture convention 8, as Alertmanager's notifiers apply it): a 5xx, a
time-out or a connection error is worth retrying; a 4xx is not — the request itself is
wrong (bad token, bad body, forbidden) and sending it again cannot help. The one 4xx
that is retried is 429 Too Many Requests: it says "later", exactly like the robots'
rate-limit codes. A 3xx is not followed (a moved webhook is a configuration error) and
is not retried.

A time-out after the request was sent may mean the receiver got it: a retry can then
deliver twice. At-least-once is the deliberate choice for a page about an incident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from alerts.model import Outcome
from alerts.notifiers.outcomes import permanent, transient

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
RETRYABLE_4XX = frozenset({429})


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def snippet(self, limit: int = 200) -> str:
        return " ".join(self.body[:limit].decode("utf-8", errors="replace").split())


async def post_json(client: httpx.AsyncClient, url: str | httpx.URL, payload: Any) -> Reply | Outcome:
    """POST ``payload`` as UTF-8 JSON; a transport failure comes back as an ``Outcome``."""
    content = orjson.dumps(payload)
    try:
        response = await client.post(url, content=content, headers=JSON_HEADERS)
    except httpx.UnsupportedProtocol as exc:
        return permanent(f"bad address: {exc}")
    except httpx.TimeoutException as exc:
        return transient(f"time-out ({type(exc).__name__})")
    except httpx.TransportError as exc:
        # Connection refused or reset, DNS failure, protocol error: the far end or the
        # network is down, which is what a retry waits out.
        return transient(f"connection error ({type(exc).__name__}: {exc})")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return permanent(f"request failed ({type(exc).__name__}: {exc})")
    return Reply(status=response.status_code, body=response.content)


def status_outcome(reply: Reply) -> Outcome | None:
    """None for a 2xx; otherwise the failed outcome the status code means."""
    status = reply.status
    if 200 <= status < 300:
        return None
    retryable = status >= 500 or status in RETRYABLE_4XX
    detail = f"HTTP {status}"
    if reply.body:
        detail += f": {reply.snippet()}"
    return Outcome(delivered=False, retryable=retryable, detail=detail)


_TOKENISH = re.compile(r"^[A-Za-z0-9_\-]{16,}$")


def redact_address(address: str) -> str:
    """An address fit for the audit log: webhook tokens (query values, long path parts) hidden.

    Robot webhooks carry their credential in the URL (WeCom ``?key=``, DingTalk
    ``?access_token=``, Feishu ``/hook/<token>``); the incident timeline must not.
    """
    if "://" not in address:
        return address                                  # an e-mail address
    parts = urlsplit(address)
    segments = [(s[:4] + "…") if _TOKENISH.match(s) else s for s in parts.path.split("/")]
    query = "&".join(f"{kv.split('=', 1)[0]}=…" for kv in parts.query.split("&") if kv)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, "/".join(segments), query, ""))
