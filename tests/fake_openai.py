"""A fake OpenAI-compatible server for the openai backend's tests: a real HTTP server on 127.0.0.1, in a process of
its own (so a test can kill it, or have it die), whose replies the test chooses.

    with FakeOpenAI(tmp_path) as servers:
        server = servers.start(replies, default=..., status=200, die_after=None, echo_prompt=False, prompt_shift=0)
        server.url          # http://127.0.0.1:PORT/v1
        server.requests()   # every request body so far, one {"path", "body"} each
        server.proc         # its process
    eval_argv(ckpt, out, server.url, ...)   # `harness eval` of the openai backend against it

A chat request is answered by the text of its last message, a completions request by its prompt ids (as JSON);
with no reply for it the `default`, and with no default HTTP 400. `status`: the HTTP status of every answer.
`die_after`: the process exits (status 1) on the request after that many answers. `echo_prompt`: completions
answers report the prompt ids they got (as vLLM does with return_token_ids), shifted by `prompt_shift` to play a
server that changed them. GET (the model list) answers one model, "tiny", of 2048 tokens.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.proc_tree import wait_until

SERVER = textwrap.dedent("""
    import json, os, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    conf = json.load(open(sys.argv[1]))
    port_file = sys.argv[2]
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
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with open(conf["log"], "a") as f:
                f.write(json.dumps({"path": self.path, "body": body}) + "\\n")
            if conf.get("die_after") is not None and answered >= conf["die_after"]:
                os._exit(1)
            answered += 1
            if self.path.endswith("/chat/completions"):
                key = body["messages"][-1]["content"]
            else:
                key = json.dumps(body["prompt"])
            reply = json.loads(json.dumps(conf["replies"].get(key, conf.get("default"))))
            if reply is None:
                return self.reply(400, {"error": {"message": "no reply for this prompt"}})
            if conf.get("echo_prompt") and "prompt" in body:
                reply["choices"][0]["prompt_token_ids"] = [t + conf.get("prompt_shift", 0) for t in body["prompt"]]
            self.reply(conf.get("status", 200), reply)

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()
""")


@dataclass
class FakeServer:
    url: str
    proc: subprocess.Popen
    log: Path

    def requests(self) -> list[dict]:
        """Every request it was sent, in order: {"path": ..., "body": ...}."""
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


class FakeOpenAI:
    """Starts fake servers under `tmp_path`; on exit kills every one still running."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, replies: dict | None = None, **conf) -> FakeServer:
        n = len(self.procs)
        log, port_file, conf_file = (self.tmp_path / f"fake-openai-{name}-{n}" for name in ("log", "port", "conf"))
        conf_file.write_text(json.dumps({"replies": replies or {}, "log": str(log), **conf}))
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(conf_file), str(port_file)])
        self.procs.append(proc)
        assert wait_until(lambda: port_file.exists() or proc.poll() is not None, 60) and proc.poll() is None
        return FakeServer(f"http://127.0.0.1:{port_file.read_text()}/v1", proc, log)

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


def eval_argv(ckpt, out, url, *extra) -> list[str]:
    """`harness eval` of `ckpt` through the openai backend at `url` into `out`: samples stored as they finish, no
    progress bar, no leaderboard; `extra` after (a later flag wins)."""
    return [
        "eval",
        "--ckpt",
        str(ckpt),
        "--backend",
        "openai",
        "--base-url",
        url,
        "--out",
        str(out),
        "--flush-secs",
        "0",
        "--no-progress",
        "--no-leaderboard",
        *map(str, extra),
    ]
