"""`harness view` and `harness export` under misuse and failure: the server answers only a Host that names it
(DNS rebinding), a client that hangs up is ended without a traceback, a served viewer picks up runs and shards
written after it started, `--export` and `--out` paths that cannot (or must not) be written are one line and exit 2
with nothing left behind, and `harness export` finds a run's task data again (a synthetic task with options, a
`file:` task exported from another folder or moved, `--data`).

Real things throughout: a server on a real socket, raw HTTP requests, real shards and manifests, real tasks.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tasks
from harness import store
from harness.cli import main
from harness.view import data
from tests import view_http, view_runs
from tests.view_http import request

REPO = Path(__file__).resolve().parents[1]
READ_ONLY = Path("/sys/rlvr-harness-test")  # sysfs: not writable, even for root (as in test_cli_errors.py)


@pytest.fixture
def results(tmp_path) -> Path:
    return view_runs.synthetic_results(tmp_path / "results")


@pytest.fixture
def served(results):
    """The server in a thread of this process, on a free port; shut down after the test."""
    with view_http.serving(results) as httpd:
        yield httpd


def one_line_error(capsys, argv, *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# -----------------------------------------------------------------------------
# DNS rebinding


SAMPLE = "/api/sample?run=run-a&task=aime24&problem=aime24-1&idx=0"


@pytest.mark.parametrize("host", ["127.0.0.1:PORT", "localhost:PORT", "LocalHost:PORT", "[::1]:PORT"])
def test_host_naming_the_server_is_answered(served, host):
    status, body = request(served, SAMPLE, host)
    assert status == 200 and json.loads(body)["text"].startswith("sample 0 of aime24-1")


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example:PORT",  # a page that rebound its own name to 127.0.0.1
        "attacker.example",
        "127.0.0.1",  # no port: the server is not on 80
        "localhost:1",
        "127.0.0.1.attacker.example:PORT",
        "localhost.:PORT",
        "",
        None,
    ],
)
@pytest.mark.parametrize("path", ["/", SAMPLE, "/api/problem?run=run-a&task=aime24&problem=aime24-1"])
def test_any_other_host_is_refused_without_data(served, host, path):
    status, body = request(served, path, host)
    assert status == 421, (host, status)
    assert b"aime24" not in body and b"run-a" not in body and b"sample 0" not in body


def test_a_second_host_header_is_refused(served):
    status, body = request(served, SAMPLE, "own", extra=[("Host", "attacker.example")])
    assert status == 421 and b"sample 0" not in body


# -----------------------------------------------------------------------------
# A client that hangs up


@pytest.mark.parametrize("when", ["while the answer is sent", "before the request ends"])
def test_client_that_hangs_up_is_ended_quietly(served, results, capsys, when):
    (results / "big.bin").write_bytes(bytes(16 << 20))  # more than any socket buffers hold
    handled = threading.Event()
    original = served.shutdown_request

    def shutdown_request(req) -> None:  # called after the request's handling (and any traceback print) ended
        original(req)
        handled.set()

    served.shutdown_request = shutdown_request
    addr, port = served.server_address[:2]
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        s.connect((addr, port))
        if when == "while the answer is sent":
            s.sendall(f"GET /files/big.bin HTTP/1.1\r\nHost: {addr}:{port}\r\n\r\n".encode())
            assert s.recv(1, socket.MSG_PEEK)  # the server has begun its answer
        else:
            s.sendall(f"GET /files/big.bin HTTP/1.1\r\nHost: {addr}:{port}\r\n".encode())  # headers not ended
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset, as a cancel
    assert handled.wait(30), "the server did not finish the request"
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Error" not in err, err
    assert request(served, "/")[0] == 200  # still serving


# -----------------------------------------------------------------------------
# harness view --export


def test_export_to_an_existing_folder(results, tmp_path, capsys):
    (tmp_path / "report.html").mkdir()
    before = tree(tmp_path)
    one_line_error(capsys, ["view", str(results), "--export", str(tmp_path / "report.html")], "is a folder, not a file")
    assert tree(tmp_path) == before


def test_export_below_a_file(results, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    before = tree(tmp_path)
    one_line_error(
        capsys, ["view", str(results), "--export", str(tmp_path / "file" / "sub" / "r.html")], "is not a folder"
    )
    assert tree(tmp_path) == before


def test_export_to_an_unwritable_folder(results, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        probe = locked / "probe"
        try:
            probe.mkdir()  # root writes anyway: use sysfs, which nobody writes
            probe.rmdir()
            target = READ_ONLY / "sub" / "r.html"
            try:
                READ_ONLY.mkdir()
            except OSError:
                pass
            else:
                READ_ONLY.rmdir()
                pytest.skip("neither a read-only folder nor /sys is unwritable here")
        except PermissionError:
            target = locked / "sub" / "r.html"
        one_line_error(capsys, ["view", str(results), "--export", str(target)], f"--export {target}", "cannot write in")
        assert not any(locked.iterdir()) and not READ_ONLY.exists()
    finally:
        locked.chmod(0o755)


def test_empty_export_name_does_not_serve(results):
    """`--export ""` used to start the server; in a child process so that a regression fails, not hangs."""
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "view", str(results), "--export", "", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 2 and proc.stdout == "", proc
    assert proc.stderr.count("\n") == 1 and "--export needs a file name" in proc.stderr, proc.stderr


def test_export_write_failure_leaves_nothing(results, tmp_path, monkeypatch, capsys):
    """A write that fails half-way (here: the disk is full) removes its temporary file and the folders it made."""
    from harness.view import page

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(page, "render", lambda payload: "x" * 100)
    monkeypatch.setattr(Path, "write_text", full)
    before = tree(tmp_path)
    one_line_error(
        capsys, ["view", str(results), "--export", str(tmp_path / "new" / "deeper" / "r.html")], "No space left"
    )
    assert tree(tmp_path) == before


# -----------------------------------------------------------------------------
# A served viewer keeps up with runs being written


def _sample_rows(run_id: str, checkpoint: str, problem: str, idx: int) -> list[dict]:
    """The rows of one more sample of `problem` (both budgets), as the store holds them."""
    rows = []
    for budget in (20480, 29696):
        rows.append(
            {
                "run_id": run_id,
                "checkpoint": checkpoint,
                "task": problem.split("-")[0],
                "task_hash": f"hash-{problem.split('-')[0]}",
                "problem_id": problem,
                "sample_idx": idx,
                "budget": budget,
                "max_tokens": 29696,
                "response_tokens": 900,
                "finish_reason": "stop",
                "truncated": False,
                "think_closed": True,
                "extracted": "7",
                "canonical": "7",
                "status": "correct",
                "correct": True,
                "response": f"sample {idx} of {problem}, written later: \\boxed{{7}}" if budget == 29696 else None,
            }
        )
    return rows


def test_new_shard_of_a_served_run_is_picked_up(served, results, monkeypatch):
    assert [
        s["idx"]
        for s in json.loads(request(served, "/api/problem?run=run-a&task=aime24&problem=aime24-1")[1])["samples"]
    ] == [0, 1, 2, 3]
    assert request(served, "/api/sample?run=run-a&task=aime24&problem=aime24-1&idx=4")[0] == 404
    read = []
    real_read = data.pq.read_table
    monkeypatch.setattr(data.pq, "read_table", lambda path, **kw: read.append(Path(path).name) or real_read(path, **kw))

    shard = store.write_shard(results / "runs" / "run-a", _sample_rows("run-a", "/ckpts/alpha", "aime24-1", 4))
    status, body = request(served, "/api/problem?run=run-a&task=aime24&problem=aime24-1")
    assert status == 200 and [s["idx"] for s in json.loads(body)["samples"]] == [0, 1, 2, 3, 4]
    assert read == [shard.name]  # only the new shard was read, not the run's others
    status, body = request(served, "/api/sample?run=run-a&task=aime24&problem=aime24-1&idx=4")
    assert status == 200 and json.loads(body)["text"].startswith("sample 4 of aime24-1, written later")
    status, body = request(served, "/")
    assert status == 200


def test_new_run_is_picked_up(served, results):
    assert request(served, "/api/problem?run=run-c&task=aime24&problem=aime24-1")[0] == 404
    status, body = request(served, "/")
    assert status == 200 and b"run-c" not in body

    view_runs.write_store_run(results, "run-c", "/ckpts/gamma", skill=0.5, seed=3)
    status, body = request(served, "/api/problem?run=run-c&task=aime24&problem=aime24-1")
    assert status == 200 and [s["idx"] for s in json.loads(body)["samples"]] == [0, 1, 2, 3]
    status, body = request(served, "/api/sample?run=run-c&task=aime25&problem=aime25-2&idx=3")
    assert status == 200 and json.loads(body)["text"].startswith("sample 3 of aime25-2")
    status, body = request(served, "/")
    assert status == 200 and b"run-c" in body and b"gamma" in body  # the page's index has it
    status, body = request(served, "/api/compare?a=alpha&b=gamma")
    assert status == 200 and json.loads(body)


def test_run_lookup_never_leaves_the_runs_folder(served, results):
    outside = results.parent / "elsewhere" / "runs" / "run-x"
    view_runs.write_store_run(results.parent / "elsewhere", "run-x", "/ckpts/x")
    assert outside.is_dir()
    for run in ("../../elsewhere/runs/run-x", "..", ".", "run-a/..", ""):
        status, body = request(served, f"/api/problem?run={run}&task=aime24&problem=aime24-1")
        assert status == 404, (run, status, body)


def test_damaged_new_shard_is_an_error_response_and_the_rest_still_serves(served, results):
    (results / "runs" / "run-b" / "shard-99999999T000000000000-deadbeef.parquet").write_bytes(b"not parquet")
    status, body = request(served, "/api/problem?run=run-b&task=aime24&problem=aime24-1")
    assert status == 500 and "cannot read shard" in json.loads(body)["error"]
    assert request(served, "/api/problem?run=run-a&task=aime24&problem=aime24-1")[0] == 200


# -----------------------------------------------------------------------------
# Items 6 and 7: harness export finds the run's task data


def write_run(results: Path, run_id: str, task: tasks.Task, name: str, source: str, **manifest) -> Path:
    """A finished run on `task` (recorded as `name` from `source`), with the manifest keys `harness eval`
    writes (evaluate.manifest): tasks, task_sources, task_hashes, config (out). Every other problem solved."""
    run_dir = results / "runs" / run_id
    run_dir.mkdir(parents=True)
    rows = [
        {
            "run_id": run_id,
            "task": name,
            "task_hash": task.content_hash,
            "problem_id": p.id,
            "sample_idx": i,
            "budget": 8,
            "max_tokens": 8,
            "correct": (k % 2 == 0) == (i == 0),
            "status": "correct",
        }
        for k, p in enumerate(task.problems)
        for i in range(2)
    ]
    store.write_shard(run_dir, rows)
    store.write_manifest(
        run_dir,
        {
            "run_id": run_id,
            "status": "finished",
            "tasks": [name],
            "task_sources": {name: source},
            "task_hashes": {name: task.content_hash},
            "budgets": [8],
            "config": {"out": str(results)},
            **manifest,
        },
    )
    return run_dir


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_of_a_synthetic_run_with_options(tmp_path, capsys):
    spec = "synthetic:difficulty=1,size=32,seed=1"
    task = tasks.load(spec)
    assert task.content_hash != tasks.load("synthetic").content_hash  # the default options give other data
    results = tmp_path / "results"
    write_run(results, "syn", task, task.name, task.source)  # as an eval of `--tasks synthetic:...` records it
    out = tmp_path / "syn.jsonl"
    assert main(["export", "syn", "--results", str(results), "--where", "avg == 0.5", "--out", str(out)]) == 0
    got = read_jsonl(out)
    assert len(got) == 32 and {r["question"] for r in got} == {p.question for p in task.problems}
    parquet = tmp_path / "syn.parquet"
    assert main(["export", "syn", "--results", str(results), "--where", "avg == 0.5", "--out", str(parquet)]) == 0


@pytest.fixture
def file_run(tmp_path, monkeypatch):
    """A `file:` run evaluated from tmp/proj with `--tasks file:data/mine.jsonl --out results`."""
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    lines = [json.dumps({"question": f"What is {i} + {i}?", "answer": str(2 * i)}) for i in range(4)]
    (proj / "data" / "mine.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(proj)
    task = tasks.load("file:data/mine.jsonl")
    assert task.source == "data/mine.jsonl"  # recorded relative, as given
    write_run(proj / "results", "filerun", task, task.name, task.source)
    store.write_manifest(
        proj / "results" / "runs" / "filerun",
        {**store.read_manifest(proj / "results" / "runs" / "filerun"), "config": {"out": "results"}},
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return {"proj": proj, "results": proj / "results", "task": task, "tmp": tmp_path}


def export_argv(run, out: Path, *extra) -> list[str]:
    return ["export", str(run["results"] / "runs" / "filerun"), "--where", "avg >= 0", "--out", str(out), *extra]


def test_file_run_exports_from_another_folder(file_run, tmp_path):
    out = tmp_path / "a.jsonl"
    assert main(export_argv(file_run, out)) == 0
    assert [r["question"] for r in read_jsonl(out)] == [p.question for p in file_run["task"].problems]


def test_file_run_against_the_results_folder_when_the_manifest_says_nothing(file_run, tmp_path):
    """No `config.out` to tell where the eval ran: the run folder's grandparent (the results folder) is tried."""
    run_dir = file_run["results"] / "runs" / "filerun"
    manifest = store.read_manifest(run_dir)
    del manifest["config"]
    store.write_manifest(run_dir, manifest)
    shutil.copytree(file_run["proj"] / "data", file_run["results"] / "data")
    out = tmp_path / "b.jsonl"
    assert main(export_argv(file_run, out)) == 0 and len(read_jsonl(out)) == 4


def test_file_run_from_the_folder_it_ran_in_without_config(file_run, tmp_path, monkeypatch):
    """An old manifest that tells nothing about where the eval ran: the current folder is tried too."""
    run_dir = file_run["results"] / "runs" / "filerun"
    manifest = store.read_manifest(run_dir)
    del manifest["config"]
    store.write_manifest(run_dir, manifest)
    monkeypatch.chdir(file_run["proj"])
    out = tmp_path / "f.jsonl"
    assert main(export_argv(file_run, out)) == 0 and len(read_jsonl(out)) == 4


def test_file_run_against_a_recorded_cwd(file_run, tmp_path):
    """A manifest that records where the eval ran (`cwd`) is resolved against it, whatever `--out` was."""
    run_dir = file_run["results"] / "runs" / "filerun"
    moved = tmp_path / "ran-here"
    shutil.move(file_run["proj"] / "data", moved / "data")
    store.write_manifest(
        run_dir, {**store.read_manifest(run_dir), "cwd": str(moved), "config": {"out": str(file_run["results"])}}
    )
    out = tmp_path / "g.jsonl"
    assert main(export_argv(file_run, out)) == 0 and len(read_jsonl(out)) == 4


def test_file_run_with_its_data_moved(file_run, tmp_path, capsys):
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(file_run["proj"] / "data" / "mine.jsonl", moved / "mine.jsonl")
    out = tmp_path / "c.jsonl"
    err = one_line_error(capsys, export_argv(file_run, out), "task file:data/mine.jsonl", "not there", "--data")
    assert str(file_run["proj"] / "data" / "mine.jsonl") in err  # names what it tried
    assert not out.exists()
    assert main(export_argv(file_run, out, "--data", str(moved))) == 0  # the folder that holds it now
    assert len(read_jsonl(out)) == 4
    out.unlink()
    assert main(export_argv(file_run, out, "--data", str(moved / "mine.jsonl"))) == 0  # the file itself
    assert len(read_jsonl(out)) == 4


def test_file_run_with_other_data_at_data(file_run, tmp_path, capsys):
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"question": "What is 5 + 5?", "answer": "10"}) + "\n")
    shutil.move(file_run["proj"] / "data" / "mine.jsonl", tmp_path / "gone.jsonl")
    out = tmp_path / "d.jsonl"
    err = one_line_error(capsys, export_argv(file_run, out, "--data", str(other)), "content hash differs")
    assert str(other) in err and not out.exists()
    one_line_error(capsys, export_argv(file_run, out, "--data", str(tmp_path / "nope")), "no such file or folder")


def test_data_that_no_task_uses_is_an_error(file_run, tmp_path, capsys):
    """The recorded file is still there; a --data holding something else is said, not silently passed over."""
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"question": "What is 5 + 5?", "answer": "10"}) + "\n")
    one_line_error(capsys, export_argv(file_run, tmp_path / "e.jsonl", "--data", str(other)), f"--data {other}")
    assert not (tmp_path / "e.jsonl").exists()


def test_export_refuses_an_existing_out_unless_forced(file_run, tmp_path, capsys):
    out = tmp_path / "kept.jsonl"
    out.write_text("mine\n")
    one_line_error(capsys, export_argv(file_run, out), f"--out {out}: exists", "--force")
    assert out.read_text() == "mine\n"
    assert main(export_argv(file_run, out, "--force")) == 0
    assert len(read_jsonl(out)) == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_export_out_folder_or_unwritable(file_run, tmp_path, capsys):
    (tmp_path / "dir.jsonl").mkdir()
    one_line_error(capsys, export_argv(file_run, tmp_path / "dir.jsonl"), "is a folder, not a file")
    (tmp_path / "file").write_text("x")
    one_line_error(capsys, export_argv(file_run, tmp_path / "file" / "x.jsonl"), "is not a folder")
