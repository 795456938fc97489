"""The API's access log without credentials.

uvicorn logs each request line with its query string. An acknowledge link's ``sig`` is
a credential (whoever holds the link acknowledges with it for 24 hours), so it must not
reach the log files that operators and log collectors read. ``RedactLinkSecrets`` is a
filter on uvicorn's access logger that replaces the value of ``sig`` in the logged path.
"""

from __future__ import annotations

import logging
import re
from typing import Any

ACCESS_LOGGER = "uvicorn.access"
_SECRET = re.compile(r"(?P<name>(?:^|[?&;])sig=)[^&;#\s]*", re.IGNORECASE)


def redacted(path: str) -> str:
    return _SECRET.sub(lambda m: f"{m['name']}***", path)


class RedactLinkSecrets(logging.Filter):
    """Drops nothing; hides link signatures in uvicorn's access records."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record: args = (client, method, path with query, http version, status).
        args: Any = record.args
        if isinstance(args, tuple):
            record.args = tuple(redacted(a) if isinstance(a, str) and "sig=" in a.lower() else a
                                for a in args)
        elif isinstance(record.msg, str) and "sig=" in record.msg.lower():
            record.msg = redacted(record.msg)
        return True


def install() -> None:
    """Put the filter on uvicorn's access logger (once; called when the API starts, after
    uvicorn configured its logging)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactLinkSecrets) for f in logger.filters):
        logger.addFilter(RedactLinkSecrets())
