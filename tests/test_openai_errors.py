"""The openai backend against a real HTTP server on 127.0.0.1 that misbehaves: HTTP 400
with the server's message, a reply without `choices`, a server that dies mid-run. One line each, exit 2, and
the samples that finished are stored."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from harness import store
from harness.cli import main
from tests.proc_tree import wait_until
from tests.test_eval import tiny_ckpt  # noqa: F401 (the module-scoped checkpoint fixture)

SERVER = textwrap.dedent("""
    import json, os, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    mode, port_file = sys.argv[1], sys.argv[2]
    answered = 0

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply(200, {"data": [{"id": "tiny", "max_model_len": 2048}]})

        def do_POST(self):
            global answered
            self.rfile.read(int(self.headers["Content-Length"]))
            if mode == "400":
                return self.reply(400, {"error": {"message": "max_tokens must be at most 8", "code": 400}})
            if mode == "nochoices":
                return self.reply(200, {"id": "cmpl-1", "object": "chat.completion"})
            if answered == 3:  # mode "dies": three answers, then the server is gone
                os._exit(1)
            answered += 1
            self.reply(200, {"choices": [{"message": {"content": "so \\\\boxed{5}"}, "finish_reason": "stop"}]})

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()
""")


@pytest.fixture
def server(tmp_path):
    procs = []

    def start(mode: str) -> str:
        port_file = tmp_path / f"port-{mode}"
        proc = subprocess.Popen([sys.executable, "-c", SERVER, mode, str(port_file)])
        procs.append(proc)
        assert wait_until(lambda: port_file.exists() or proc.poll() is not None, 60) and proc.poll() is None
        return f"http://127.0.0.1:{port_file.read_text()}/v1", proc

    yield start
    for p in procs:
        p.kill()
        p.wait()


def run(ckpt, out, url) -> int:
    return main(
        [
            "eval",
            "--ckpt",
            str(ckpt),
            "--backend",
            "openai",
            "--base-url",
            url,
            "--out",
            str(out),
            "--tasks",
            "aime24",
            "--limit",
            "3",
            "--n",
            "2",
            "--max-tokens",
            "16",
            "--concurrency",
            "1",
            "--flush-secs",
            "0",
            "--no-progress",
            "--no-leaderboard",
        ]
    )


@pytest.mark.parametrize(
    "mode, message",
    [
        ("400", "answered HTTP 400: max_tokens must be at most 8"),
        ("nochoices", 'sent a reply without choices[0].message: \'{"id": "cmpl-1"'),
    ],
)
def test_server_errors_are_one_line(tiny_ckpt, tmp_path, capsys, server, mode, message):  # noqa: F811
    url, _ = server(mode)
    assert run(tiny_ckpt, tmp_path / "out", url) == 2
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("harness eval: error:")]
    assert message in line and "Traceback" not in err
    (run_dir,) = (tmp_path / "out" / "runs").iterdir()
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_server_that_dies_mid_run(tiny_ckpt, tmp_path, capsys, server):  # noqa: F811
    url, proc = server("dies")
    assert run(tiny_ckpt, tmp_path / "out", url) == 2
    assert proc.wait(timeout=60) == 1  # it really died
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("harness eval: error:")]
    assert "stopped answering" in line and "finished samples are kept" in line and "Traceback" not in err
    (run_dir,) = (tmp_path / "out" / "runs").iterdir()
    assert store.read_samples(run_dir).num_rows == 3  # the three answers before it died
