"""`harness view` without a browser: loading a results folder, bad input (one line, exit 2), the server's
routes and its refusal of paths outside the results folder (raw HTTP requests), and the export file."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.view import data, page, server
from tests import view_http, view_runs
from tests.proc_tree import wait_until
from tests.view_http import request

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def results(tmp_path) -> Path:
    return view_runs.synthetic_results(tmp_path / "results")


@pytest.fixture
def served(results):
    """The server in a thread of this process, on a free port; shut down after the test."""
    with view_http.serving(results) as httpd:
        yield httpd


def one_line_error(capsys, argv, expected: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_load_reads_runs_not_on_the_leaderboard(results):
    r = data.load(results)
    assert sorted(r.runs) == ["run-a", "run-b"]
    assert {row["run_id"] for row in r.rows} == {"run-a", "run-b"}  # scored from the store by leaderboard.rows_for_run
    assert r.labels() == ["alpha", "beta"]
    index = data.index(r)
    assert index["runs"]["run-a"]["problems"]["aime24"][0] == "aime24-1"
    p = data.problem_samples(r, "run-a", "aime24", "aime24-1")
    assert [s["idx"] for s in p["samples"]] == [0, 1, 2, 3] and p["budgets"] == [20480, 29696]
    s = data.sample_detail(r, "run-a", "aime24", "aime24-1", 0)
    assert s["text"].startswith("sample 0 of aime24-1") and s["prompt"] is None and s["notes"]
    rows = data.compare_pair(r, "alpha", "beta")
    assert {(c["task"], c["budget"]) for c in rows} == {(t, b) for t in ("aime24", "aime25") for b in (20480, 29696)}
    assert all(c["lo"] <= c["diff"] <= c["hi"] for c in rows)


def test_old_leaderboard_file_is_read_with_nulls(results):
    shutil.copy(REPO / "tests" / "fixtures" / "leaderboard_v0.parquet", results / "leaderboard.parquet")
    r = data.load(results)
    old = [row for row in r.rows if row["run_id"] not in ("run-a", "run-b")]
    assert old and all(row["repetition_rate"] is None and row["seconds_per_solved"] is None for row in old)
    page.to_json(data.index(r))  # NaN and friends become null, the page's JSON stays valid


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "does not exist"),
        ("no-runs", "holds no runs"),
        ("corrupt-shard", "cannot read shard"),
        ("bad-manifest", "manifest.json is not valid JSON"),
        ("bad-port", "--port must be in 0..65535"),
        ("bad-tokenizer", "--tokenizer"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, results, capsys, case, message):
    argv = ["view", str(results), "--export", str(tmp_path / "out.html")]
    if case == "missing":
        argv[1] = str(tmp_path / "nope")
    elif case == "no-runs":
        (tmp_path / "empty" / "runs").mkdir(parents=True)
        argv[1] = str(tmp_path / "empty")
    elif case == "corrupt-shard":
        shard = sorted((results / "runs" / "run-b").glob("shard-*.parquet"))[0]
        shard.write_bytes(shard.read_bytes()[:200])
        message = f"cannot read shard {shard}"
    elif case == "bad-manifest":
        (results / "runs" / "run-a" / "manifest.json").write_text("{not json")
    elif case == "bad-port":
        argv = ["view", str(results), "--port", "70000"]
    elif case == "bad-tokenizer":
        argv += ["--tokenizer", str(tmp_path / "no-ckpt")]
    one_line_error(capsys, argv, message)
    assert not (tmp_path / "out.html").exists()  # nothing half-written


def test_port_in_use_one_line_exit_2(results, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        one_line_error(
            capsys, ["view", str(results), "--port", str(port)], f"port {port} on 127.0.0.1 is already in use"
        )


def test_served_routes(served):
    status, body = request(served, "/")
    assert status == 200 and b'id="data"' in body
    status, body = request(served, "/api/problem?run=run-a&task=aime24&problem=aime24-2")
    assert status == 200 and [s["idx"] for s in json.loads(body)["samples"]] == [0, 1, 2, 3]
    status, body = request(served, "/api/sample?run=run-b&task=aime25&problem=aime25-3&idx=2")
    assert status == 200 and json.loads(body)["text"].startswith("sample 2 of aime25-3")
    assert request(served, "/api/sample?run=nope&task=aime24&problem=aime24-1&idx=0")[0] == 404
    assert request(served, "/api/sample?run=run-a&task=aime24&problem=aime24-1&idx=x")[0] == 400
    assert request(served, "/api/problem?run=run-a")[0] == 404
    assert request(served, "/nothing")[0] == 404
    status, body = request(served, "/files/runs/run-a/manifest.json")
    assert status == 200 and json.loads(body)["run_id"] == "run-a"


def test_shard_damaged_after_start_up_is_an_error_response(served, results):
    for shard in (results / "runs" / "run-a").glob("shard-*.parquet"):
        shard.write_bytes(b"not parquet any more")
    status, body = request(served, "/api/sample?run=run-a&task=aime24&problem=aime24-1&idx=0")
    assert status == 500 and "cannot read the store" in json.loads(body)["error"]
    assert request(served, "/")[0] == 200  # still serving


@pytest.mark.parametrize(
    "path",
    [
        "/files/../secret.txt",
        "/files/runs/../../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/%2E%2E%2Fsecret.txt",
        "/files/..%2fsecret.txt",
        "/files/runs/%2e%2e/%2e%2e/secret.txt",
        "/files/%2fetc%2fpasswd",
        "/files//etc/passwd",
        "/files/..%5csecret.txt",
        "/files/runs%00/x",
        "/files/link-out/secret.txt",
    ],
)
def test_server_refuses_paths_outside_the_results_folder(served, results, path):
    secret = results.parent / "secret.txt"
    secret.write_text("do not serve me")
    (results / "link-out").symlink_to(results.parent)
    status, body = request(served, path)
    assert status == 403 and b"do not serve me" not in body, (path, status, body)


def test_safe_path_inside_is_allowed(results):
    assert server.safe_path(results, "runs/run-a/manifest.json") == (results / "runs/run-a/manifest.json").resolve()
    assert server.safe_path(results, "runs/%2e%2e/runs") is None
    assert server.safe_path(results, "") is None


def test_export_is_one_self_contained_file(results, tmp_path):
    out = tmp_path / "report.html"
    assert main(["view", str(results), "--export", str(out), "--export-samples", "2", "--export-chars", "10"]) == 0
    html = out.read_text()
    assert html.count("</script>") == 2 and html.count("<script") == 2  # the data tag and the app
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched from anywhere
    payload = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1))
    assert payload["mode"] == "export"
    assert payload["caps"] == {
        "max_samples": 2,
        "max_chars": 10,
        "embedded": 2 * 2 * 2 * 6,
        "total": 2 * 2 * 4 * 6,
        "compare_labels": 2,
        "labels": 2,
    }
    s = payload["samples"]["run-a|aime24|aime24-1|1"]
    assert len(s["text"]) == 10 and s["text_chars"] > 10
    assert "run-a|aime24|aime24-1|2" not in payload["samples"]
    assert "alpha|beta" in payload["compare"]


@pytest.mark.slow
def test_cli_serves_and_prints_its_url(results):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "view", str(results), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # Ctrl-C as a terminal delivers it: a test run started in the background (`cmd &` in a script) ignores
        # SIGINT, children inherit that, and Python then installs no KeyboardInterrupt handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:

        def answers() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        # Waits on the socket (or the process ending); 120 s is only the backstop.
        assert wait_until(lambda: answers() or proc.poll() is not None, 120), "server did not come up"
        assert proc.poll() is None, proc.communicate()
        assert proc.stdout.readline().strip() == f"serving {results} at http://127.0.0.1:{port}/ (Ctrl-C to stop)"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=30) == 130
