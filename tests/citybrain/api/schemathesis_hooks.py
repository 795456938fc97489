"""Loaded by schemathesis' command line (``SCHEMATHESIS_HOOKS``) in ``test_schemathesis``.

The platform's Grafana client depends on niquests, whose urllib3-future replaces the
``urllib3`` package that ``requests`` — schemathesis' transport — imports. Its pool
manager keeps pools in a ``TrafficPolice`` that has no ``keys()``, which schemathesis
(4.32) calls to count the connections it opened before re-sending a request the server
dropped before answering. Counting is not possible there without the container's
internals, so every such count is 0: a request dropped before its answer is re-sent once,
which is what schemathesis does for a dropped keep-alive connection anyway.
"""

from __future__ import annotations

from typing import Any

from schemathesis.transport import requests as transport

_original = transport._count_opened_connections


def _count_opened_connections(session: Any) -> int:
    try:
        return _original(session)
    except AttributeError:   # urllib3-future's pool container
        return 0


transport._count_opened_connections = _count_opened_connections
