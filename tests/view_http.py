"""`harness view`'s server for the tests: served from a thread of the test's process, asked with raw HTTP requests."""

from __future__ import annotations

import http.client
import threading
from contextlib import contextmanager
from pathlib import Path

from harness.view import data, server


@contextmanager
def serving(results: Path):
    """The server of the results folder in a thread of this process, on a free port; shut down on exit."""
    httpd = server.make_server(data.load(results), 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def request(httpd, path: str, host: str | None = "own", extra: list[tuple[str, str]] = ()) -> tuple[int, bytes]:
    """A raw GET: the path goes on the wire exactly as written (no client-side normalisation of '..'), with exactly
    the Host header given ("own": the server's address and port; None: none; "PORT" in it: the server's port) and
    the `extra` headers after it."""
    addr, port = httpd.server_address[:2]
    conn = http.client.HTTPConnection(addr, port, timeout=10)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    if host is not None:
        conn.putheader("Host", f"{addr}:{port}" if host == "own" else host.replace("PORT", str(port)))
    for name, value in extra:
        conn.putheader(name, value)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body
