"""An ASGI app served by uvicorn on a loopback port, in a thread, for tests that talk to
it over real HTTP (schemathesis, the browser): ``with served(app) as url: ...``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def served(app: Any, *, start_within: float = 60.0) -> Iterator[str]:
    # IPPROTO_TCP named, as uvicorn's own listening socket has it: asyncio turns Nagle off
    # only on connections whose socket says proto 6, and a bare socket.socket() says 0.
    # With Nagle on, each answer's body waits for the client's delayed ACK of its
    # headers: ~45 ms per request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="served", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_within
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start serving")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
