"""What a chat robot's answer means: robots say "failed" inside an HTTP 200.

WeCom, DingTalk and Feishu group robots answer most failures — bad token, keyword
check failed, signature mismatch, rate limit — with HTTP 200 and an error code in the
JSON body. Each robot module names its success code field(s) and which body codes are
worth retrying (rate limits, "system busy"); every other non-zero code is a
configuration problem that a retry cannot fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alerts.model import Outcome
from alerts.notifiers.outcomes import delivered, permanent, transient
from alerts.notifiers.transport import Reply, status_outcome


def robot_outcome(reply: Reply, *, code_fields: Sequence[str], message_fields: Sequence[str],
                  retryable_codes: Mapping[int, str]) -> Outcome:
    failed = status_outcome(reply)
    if failed is not None:
        return failed
    body = reply.json()
    if not isinstance(body, dict):
        # A 200 that is not the robot's JSON: the address points at something else
        # (a portal, a proxy's login page). Retrying would post to it again.
        return permanent(f"HTTP {reply.status} but not a robot answer: {reply.snippet()}")
    code = next((body[f] for f in code_fields if isinstance(body.get(f), int)), None)
    message = next((str(body[f]) for f in message_fields if body.get(f) not in (None, "")), "")
    if code is None:
        return permanent(f"HTTP {reply.status} without an error code: {reply.snippet()}")
    if code == 0:
        return delivered(f"HTTP {reply.status}, code 0")
    meaning = retryable_codes.get(code)
    if meaning is not None:
        return transient(f"HTTP {reply.status}, code {code} ({meaning}): {message}")
    return permanent(f"HTTP {reply.status}, code {code}: {message}")
