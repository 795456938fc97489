"""A stand-in for Grafana's HTTP API: a real HTTP server on loopback that records requests.

No Grafana server can be installed here, so this is the fake the push test talks to. It
implements the handful of endpoints `citybrain dashboards push` uses, with Grafana's
rules where they decide idempotency: a folder or datasource uid that exists cannot be
POSTed again (409), a dashboard uid that exists is replaced only with ``overwrite``
(412 otherwise), every update bumps the object's version, and every request needs the
bearer token (401). It is NOT Grafana: it checks no permissions, no dashboard schema and
no datasource connectivity.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class State:
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    next_id: int = 1


class GrafanaStandIn:
    def __init__(self, token: str) -> None:
        self.token = token
        self.state = State()
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _reply(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                auth = self.headers.get("Authorization")
                with standin._lock:
                    standin.state.requests.append(Recorded(self.command, self.path, auth, body))
                    if auth != f"Bearer {standin.token}":
                        self._reply(401, {"message": "Unauthorized"})
                        return
                    status, payload = standin.route(self.command, self.path, body)
                self._reply(status, payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def _id(self) -> int:
        self.state.next_id += 1
        return self.state.next_id - 1

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        s = self.state
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:2] != ["api", "folders"] and parts[:2] != ["api", "datasources"] \
                and parts[:2] != ["api", "dashboards"]:
            return 404, {"message": "Not found"}
        if parts[1] == "folders":
            if method == "GET" and len(parts) == 3:
                found = s.folders.get(parts[2])
                return (200, found) if found else (404, {"message": "folder not found"})
            if method == "POST" and len(parts) == 2:
                uid = body.get("uid")
                if uid in s.folders:
                    return 409, {"message": "a folder with the same uid already exists"}
                s.folders[uid] = {"uid": uid, "title": body["title"], "id": self._id(), "version": 1}
                return 200, s.folders[uid]
            if method == "PUT" and len(parts) == 3:
                found = s.folders.get(parts[2])
                if not found:
                    return 404, {"message": "folder not found"}
                found.update(title=body.get("title", found["title"]), version=found["version"] + 1)
                return 200, found
        if parts[1] == "datasources":
            if method == "GET" and len(parts) == 4 and parts[2] == "uid":
                found = s.datasources.get(parts[3])
                return (200, found) if found else (404, {"message": "Data source not found"})
            if method == "POST" and len(parts) == 2:
                names = {d["name"] for d in s.datasources.values()}
                if body["uid"] in s.datasources or body["name"] in names:
                    return 409, {"message": "data source with the same name already exists"}
                s.datasources[body["uid"]] = {**body, "id": self._id(), "version": 1}
                return 200, {"datasource": s.datasources[body["uid"]], "message": "Datasource added"}
            if method == "PUT" and len(parts) == 4 and parts[2] == "uid":
                found = s.datasources.get(parts[3])
                if not found:
                    return 404, {"message": "Data source not found"}
                s.datasources[parts[3]] = {**body, "id": found["id"], "version": found["version"] + 1}
                return 200, {"datasource": s.datasources[parts[3]], "message": "Datasource updated"}
        if parts[1] == "dashboards":
            if method == "GET" and len(parts) == 4 and parts[2] == "uid":
                found = s.dashboards.get(parts[3])
                return (200, found) if found else (404, {"message": "Dashboard not found"})
            if method == "POST" and parts[2:] == ["db"]:
                dash = body["dashboard"]
                uid = dash["uid"]
                folder = body.get("folderUid")
                if folder is not None and folder not in s.folders:
                    return 400, {"message": "folder not found"}
                found = s.dashboards.get(uid)
                if found and not body.get("overwrite"):
                    return 412, {"status": "name-exists", "message": "A dashboard with the same uid exists"}
                version = found["meta"]["version"] + 1 if found else 1
                ident = found["dashboard"]["id"] if found else self._id()
                s.dashboards[uid] = {"dashboard": {**dash, "id": ident, "version": version},
                                     "meta": {"folderUid": folder, "version": version}}
                return 200, {"id": ident, "uid": uid, "status": "success", "version": version,
                             "url": f"/d/{uid}"}
        return 405, {"message": f"{method} {path} is not part of the stand-in"}
