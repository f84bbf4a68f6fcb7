"""A small subset of ClickHouse's HTTP interface, served by the process that owns the
embedded chDB directory, so other processes and tools (curl, `sluice sql`) can query
it while the store holds the lock: `GET /?query=...`, `POST /` with the query as the
body, `default_format`, and `GET /ping`."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from schemas.errors import SinkError

log = logging.getLogger(__name__)


class SqlEndpoint:
    def __init__(self, query_fn, host: str = "127.0.0.1", port: int = 0):
        self._query = query_fn
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                endpoint._handle(self, None)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                endpoint._handle(self, self.rfile.read(length).decode("utf-8", "replace"))

            def log_message(self, fmt, *args):
                log.debug("sql endpoint: " + fmt, *args)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="sql-endpoint", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SqlEndpoint:
        self._thread.start()
        return self

    def _handle(self, req: BaseHTTPRequestHandler, body: str | None) -> None:
        url = urlparse(req.path)
        if url.path == "/ping":
            self._reply(req, 200, b"Ok.\n")
            return
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        sql = " ".join(p for p in (params.get("query"), body) if p)
        if not sql.strip():
            self._reply(req, 400, b"no query: pass ?query=... or a POST body\n")
            return
        try:
            result = self._query(sql, params.get("default_format", "TabSeparated"))
        except SinkError as exc:
            self._reply(req, 500, f"{exc}\n".encode(), code=exc.code)
            return
        self._reply(req, 200, result)

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, status: int, body: bytes, code: int | None = None) -> None:
        req.send_response(status)
        req.send_header("Content-Type", "text/plain; charset=utf-8")
        req.send_header("Content-Length", str(len(body)))
        if code is not None:
            req.send_header("X-ClickHouse-Exception-Code", str(code))
        req.end_headers()
        req.wfile.write(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
