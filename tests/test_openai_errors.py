"""The openai backend against a real HTTP server on 127.0.0.1 that misbehaves: HTTP 400
with the server's message, a reply without `choices`, a server that dies mid-run. One line each, exit 2, and
the samples that finished are stored."""

from __future__ import annotations

import json

import pytest

from harness import store
from harness.cli import main
from tests.fake_openai import FakeOpenAI, eval_argv
from tests.test_eval import tiny_ckpt  # noqa: F401 (the module-scoped checkpoint fixture)

MODES = {  # the misbehaviour of each fake server (tests/fake_openai.py)
    "400": {"status": 400, "default": {"error": {"message": "max_tokens must be at most 8", "code": 400}}},
    "nochoices": {"default": {"id": "cmpl-1", "object": "chat.completion"}},
    # three answers, then the server is gone
    "dies": {
        "die_after": 3,
        "default": {"choices": [{"message": {"content": "so \\boxed{5}"}, "finish_reason": "stop"}]},
    },
}


@pytest.fixture
def server(tmp_path):
    """start(mode) -> (base url, the server's process)."""
    with FakeOpenAI(tmp_path) as servers:

        def start(mode: str):
            s = servers.start(**MODES[mode])
            return s.url, s.proc

        yield start


def run(ckpt, out, url) -> int:
    return main(
        eval_argv(ckpt, out, url, "--tasks", "aime24", "--limit", 3, "--n", 2, "--max-tokens", 16, "--concurrency", 1)
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
