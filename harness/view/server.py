"""The local server of `harness view`: the standard library's ThreadingHTTPServer, bound to 127.0.0.1.

Routes (GET only):
    /                                   the page (with the index embedded)
    /api/problem?run=&task=&problem=    one problem's samples at every scored budget (JSON)
    /api/sample?run=&task=&problem=&idx=  one sample in full (JSON)
    /api/compare?a=&b=                  paired differences of two checkpoints (JSON)
    /files/<path>                       a file under the results folder (PNG plots)

Run ids and problems are looked up in what was loaded, never joined into paths. `/files/` refuses any
path that leaves the results folder: a `..` segment (also percent-encoded), an absolute path, a NUL,
or a symbolic link pointing outside.

Every request must name this server in its Host header (127.0.0.1, localhost or [::1], with its port);
any other Host is answered 421 without data, so a web page that rebinds its own name to 127.0.0.1 (DNS
rebinding) cannot read the results. Runs and shards written after start-up are picked up on request
(`data.Results.refresh`, `refresh_run`: folder listings, only new files read). A client that drops its
connection (browsers cancel requests all the time) ends its request quietly.
"""

from __future__ import annotations

import errno
import json
import mimetypes
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

from harness.errors import UsageError
from harness.view import data, page

HOST = "127.0.0.1"


def safe_path(root: Path, url_path: str) -> Path | None:
    """The file under root that url_path (after /files/, still percent-encoded) names, or None if it leaves root."""
    decoded = unquote(url_path)
    if "\0" in decoded or "\\" in decoded:
        return None
    parts = PurePosixPath(decoded).parts
    if not parts or decoded.startswith("/") or ".." in parts:
        return None
    base = root.resolve()
    target = (base / Path(*parts)).resolve()
    return target if target.is_relative_to(base) else None


LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


def host_allowed(host: str | None, port: int) -> bool:
    """Whether a Host header names this server: a loopback name with its port (port 80 may be left out)."""
    if host is None:
        return False
    allowed = {f"{name}:{port}" for name in LOCAL_NAMES} | (set(LOCAL_NAMES) if port == 80 else set())
    return host.strip().lower() in allowed


class Handler(BaseHTTPRequestHandler):
    results: data.Results  # set on the subclass made by make_server
    page_cache: dict  # {"version": results.version it was built from, "html": bytes}; one per server
    page_lock: threading.Lock

    def handle(self) -> None:
        try:
            super().handle()
        except ConnectionError:  # reset, broken pipe, aborted: the client went away, nobody to answer
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not host_allowed(hosts[0], self.server.server_address[1]):
            return self._error(
                HTTPStatus.MISDIRECTED_REQUEST, "refused: the Host header does not name this server (127.0.0.1)"
            )
        status, body, kind = self._answer()
        self._send(status, body, kind)  # outside _answer: a client gone while it is sent is not a store error

    def _answer(self) -> tuple[HTTPStatus, bytes, str]:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/":
                return HTTPStatus.OK, self._page(), "text/html; charset=utf-8"
            if url.path == "/api/problem":
                self.results.refresh_run(query["run"])
                return self._json(data.problem_samples(self.results, query["run"], query["task"], query["problem"]))
            if url.path == "/api/sample":
                if not re.fullmatch(r"[0-9]+", query.get("idx", "")):
                    return self._error_body(HTTPStatus.BAD_REQUEST, "bad request: idx must be a sample number")
                self.results.refresh_run(query["run"])
                return self._json(
                    data.sample_detail(self.results, query["run"], query["task"], query["problem"], int(query["idx"]))
                )
            if url.path == "/api/compare":
                self.results.refresh()
                return self._json(data.compare_pair(self.results, query["a"], query["b"]))
            if url.path.startswith("/files/"):
                return self._file(url.path[len("/files/") :])
        except KeyError as exc:
            return self._error_body(HTTPStatus.NOT_FOUND, f"not found: {exc}")
        except UsageError as exc:  # a shard or manifest written since start-up that does not read
            return self._error_body(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))
        except (OSError, ValueError) as exc:  # a shard removed or damaged since start-up (ArrowInvalid: ValueError)
            return self._error_body(HTTPStatus.INTERNAL_SERVER_ERROR, f"cannot read the store: {exc}")
        return self._error_body(HTTPStatus.NOT_FOUND, f"no such page: {url.path}")

    def _page(self) -> bytes:
        """The page with the current index: built again when `refresh` found new runs or shards."""
        self.results.refresh()
        with self.page_lock:
            version = self.results.version
            if self.page_cache.get("version") != version:
                self.page_cache.update(version=version, html=page.served_page(self.results).encode())
            return self.page_cache["html"]

    def _file(self, rel: str) -> tuple[HTTPStatus, bytes, str]:
        target = safe_path(self.results.root, rel)
        if target is None:
            return self._error_body(HTTPStatus.FORBIDDEN, "refused: the path leaves the results folder")
        if not target.is_file():
            return self._error_body(HTTPStatus.NOT_FOUND, "no such file")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return HTTPStatus.OK, target.read_bytes(), kind

    @staticmethod
    def _json(value) -> tuple[HTTPStatus, bytes, str]:
        return HTTPStatus.OK, page.to_json(value).encode(), "application/json"

    @staticmethod
    def _error_body(status: HTTPStatus, message: str) -> tuple[HTTPStatus, bytes, str]:
        return status, json.dumps({"error": message}).encode(), "application/json"

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(*self._error_body(status, message))

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002 (http.server's signature)
        pass  # quiet: the command prints its URL and nothing per request


def make_server(results: data.Results, port: int, host: str = HOST) -> ThreadingHTTPServer:
    """A server for the loaded results (not yet serving); a port in use is a UsageError."""
    handler = type(
        "ResultsHandler",
        (Handler,),
        {
            "results": results,
            "page_cache": {"version": results.version, "html": page.served_page(results).encode()},
            "page_lock": threading.Lock(),
        },
    )
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is already in use: pass another --port (0 picks a free one)"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    server.daemon_threads = True
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"
