"""A stand-in for the chat-robot services (WeCom, DingTalk, Feishu) and for a customer's webhook.

Those services live on the Internet and cannot run here, so tests talk to this instead:
a real HTTP server (stdlib ``ThreadingHTTPServer``) on a loopback port, in a thread of
its own. It records every request it receives (method, path, query, headers, raw body)
and answers from a script: queued replies first (status, body, optional delay before
answering, to provoke client time-outs), then a ``responder`` that decides from the
request itself — which is how the DingTalk and Feishu stand-ins check signatures the
way the real services do.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)   # bytes as they are, anything else as JSON
    delay: float = 0.0                        # seconds to wait before answering

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


Responder = Callable[[Recorded], Reply]


class RobotServiceStandIn:
    def __init__(self, responder: Responder | None = None) -> None:
        self.requests: list[Recorded] = []
        self._queue: deque[Reply] = deque()
        self._responder: Responder = responder or (lambda _request: Reply(200, {}))
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        # A short poll interval: shutdown() waits up to one interval, at every test's teardown.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="robot-stand-in", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then fall back to the responder."""
        with self._lock:
            self._queue.extend(replies)

    def respond_with(self, responder: Responder) -> None:
        self._responder = responder

    def _next_reply(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            queued = self._queue.popleft() if self._queue else None
        return queued if queued is not None else self._responder(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                request = Recorded(method="POST", path=parts.path, query=parse_qs(parts.query),
                                   headers={k.lower(): v for k, v in self.headers.items()}, body=body)
                reply = stand_in._next_reply(request)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.encoded()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (time-out test): nothing to answer to

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean; requests are recorded instead

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running(responder: Responder | None = None) -> Iterator[RobotServiceStandIn]:
    stand_in = RobotServiceStandIn(responder)
    stand_in.start()
    try:
        yield stand_in
    finally:
        stand_in.stop()
