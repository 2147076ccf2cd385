"""A real HTTP server on 127.0.0.1 with Range support, for download tests.

``LoopbackServer(folder)`` serves the files of ``folder`` from a thread. It
honours ``Range: bytes=N-`` (206 + Content-Range), records every request, and
can drop the connection halfway through a file (``drop_first``) to simulate an
interrupted transfer.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        path = srv.folder / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and srv.ranges:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if self.path in srv.drop_first and self.path not in srv.dropped:
            srv.dropped.add(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # drop mid-file: the client sees fewer bytes than announced
            return
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, folder: Path, drop_first: set[str], ranges: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.folder = folder
        self.drop_first = drop_first
        self.dropped: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        self.ranges = ranges


class LoopbackServer:
    def __init__(self, folder: Path, drop_first: set[str] | None = None, ranges: bool = True) -> None:
        self.httpd = _Server(Path(folder), drop_first or set(), ranges)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def requests(self) -> list[tuple[str, str | None]]:
        return self.httpd.requests

    def url(self, name: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/{name}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
