"""A stand-in for the Hugging Face hub (a true boundary: no test may reach the internet),
serving one model repository over real HTTP to the real ``huggingface_hub`` client, at a
chosen speed so that a download can be watched and cancelled mid-way.

Point the client at it with ``HF_ENDPOINT=hub.url``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repo_id: str, files: dict[str, bytes], bytes_per_s: float = 1e9):
        self.repo_id = repo_id
        self.files = files
        self.bytes_per_s = bytes_per_s
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                hub._serve(self, body=False)

            def do_GET(self):
                hub._serve(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _serve(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = handler.path.split("?")[0]
        wanted = handler.headers.get("Range")
        self.requests.append(
            f"{handler.command} {path}" + (f" {wanted}" if wanted else "")
        )
        info = re.fullmatch(
            rf"/api/models/{re.escape(self.repo_id)}(?:/revision/[^/]+)?", path
        )
        if info:
            payload = json.dumps(
                {
                    "id": self.repo_id,
                    "modelId": self.repo_id,
                    "sha": COMMIT,
                    "siblings": [
                        {"rfilename": name, "size": len(data)}
                        for name, data in self.files.items()
                    ],
                }
            ).encode()
            self._reply(
                handler, 200, {"Content-Type": "application/json"}, payload, body
            )
            return
        if re.fullmatch(
            rf"/api/models/{re.escape(self.repo_id)}/tree/[^/]+(/.*)?", path
        ):
            tree = [
                {
                    "type": "file",
                    "path": name,
                    "size": len(data),
                    "oid": hashlib.sha1(data).hexdigest(),
                }
                for name, data in self.files.items()
            ]
            self._reply(
                handler,
                200,
                {"Content-Type": "application/json"},
                json.dumps(tree).encode(),
                body,
            )
            return
        match = re.fullmatch(rf"/{re.escape(self.repo_id)}/resolve/[^/]+/(.+)", path)
        if not match or match.group(1) not in self.files:
            self._reply(
                handler, 404, {"X-Error-Code": "EntryNotFound"}, b"not found", body
            )
            return
        data = self.files[match.group(1)]
        start = 0
        if wanted and (m := re.fullmatch(r"bytes=(\d+)-", wanted)):
            start = int(m.group(1))
        headers = {
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "Content-Type": "application/octet-stream",
        }
        status = 206 if start else 200
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        self._reply(handler, status, headers, data[start:], body, throttle=True)

    def _reply(self, handler, status, headers, payload, body, throttle=False) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if not body:
            return
        step = 64 * 1024
        try:
            for offset in range(0, len(payload), step):
                handler.wfile.write(payload[offset : offset + step])
                if throttle:
                    time.sleep(step / self.bytes_per_s)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client cancelled

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
