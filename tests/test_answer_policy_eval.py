"""Answer policies through `harness eval` and `harness regrade` (a tiny model on the hf backend, budgets that cut).

The stored verdict of every (sample, budget, policy) row equals `tasks.grade` of that budget's cut text under the
row's policy and truncation; a second policy is added beside the first without generating or rewriting anything;
a regrade killed with SIGKILL leaves a readable store and a rerun completes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness import leaderboard, regrade, store
from harness.backends import load_tokenizer
from harness.cli import main
from tasks.grading import config_for, grade
from tests.test_eval import _build_tiny, harness_eval

FLAGS = ("--tasks", "aime24,synthetic", "--limit", 3, "--n", 3, "--max-tokens", "8,48", "--budget-curve", 16)
VERDICT = ("extracted", "canonical", "status", "correct")


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir: HARNESS_DATA_DIR must be set)
    return _build_tiny(tmp_path_factory.mktemp("tiny-policy"))


@pytest.fixture(scope="module")
def evaluated(tiny_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("policy-eval")
    assert harness_eval(tiny_ckpt, out, *FLAGS) == 0
    (run_dir,) = (out / "runs").iterdir()
    return out, run_dir


def assert_verdicts_are_the_cut_texts(run_dir: Path, tokenizer) -> set[str]:
    """Every stored row's verdict is the grade of its budget's cut text under its policy; returns the policies."""
    rows = store.read_samples(run_dir).to_pylist()
    kinds = store.read_manifest(run_dir)["task_kinds"]
    full = {(r["task"], r["problem_id"], r["sample_idx"]): r for r in rows if r["response"] is not None}
    keys = [(r["task"], r["problem_id"], r["sample_idx"], r["budget"], r["answer_policy"]) for r in rows]
    assert len(set(keys)) == len(keys)
    for r in rows:
        f = full[(r["task"], r["problem_id"], r["sample_idx"])]
        ids = f["token_ids"][: r["budget"]]
        text = f["response"] if len(ids) == len(f["token_ids"]) else tokenizer.decode(ids, skip_special_tokens=True)
        assert r["truncated"] == (len(f["token_ids"]) > r["budget"] or f["finish_reason"] != "stop")
        assert r["think_tokens"] + r["answer_tokens"] == r["response_tokens"]  # thinking vs answer tokens
        g = grade(text, r["gold"], config=config_for(kinds[r["task"]], r["answer_policy"]), truncated=r["truncated"])
        assert (g.extracted, g.canonical, g.status, g.correct) == tuple(r[c] for c in VERDICT), (text, r)
    return {r["answer_policy"] for r in rows}


def test_eval_stores_the_policy_and_grades_each_cut(evaluated, tiny_ckpt):
    out, run_dir = evaluated
    assert store.read_manifest(run_dir)["answer_policy"] == "committed"
    rows = store.read_samples(run_dir).to_pylist()
    assert any(r["truncated"] for r in rows) and any(not r["truncated"] for r in rows)
    assert assert_verdicts_are_the_cut_texts(run_dir, load_tokenizer(tiny_ckpt)) == {"committed"}
    assert {r["answer_policy"] for r in leaderboard.read(out / "leaderboard.parquet").to_pylist()} == {"committed"}


def test_a_second_policy_is_added_beside_the_first(evaluated, tiny_ckpt, capsys):
    out, run_dir = evaluated
    before = {p.name for p in store.shard_paths(run_dir)}
    first = {_key(r): r for r in store.read_samples(run_dir).to_pylist()}
    capsys.readouterr()
    assert harness_eval(tiny_ckpt, out, *FLAGS, "--answer-policy", "after-think") == 0
    captured = capsys.readouterr()
    assert "0 sample(s) to generate" in captured.err
    assert "avg@n (%) after-think" in captured.out and "avg@n (%) committed" in captured.out  # side by side
    assert main(["regrade", str(run_dir), "--answer-policy", "last-box"]) == 0
    assert main(["regrade", run_dir.name, "--results", str(out), "--answer-policy", "last-box"]) == 0  # nothing left
    assert "0 row(s) graded under last-box" in capsys.readouterr().out
    rows = store.read_samples(run_dir).to_pylist()
    assert {p.name for p in store.shard_paths(run_dir)} >= before
    assert {_key(r): r for r in rows if r["answer_policy"] == "committed"} == first  # nothing rewritten
    assert len(rows) == 3 * len(first)
    assert assert_verdicts_are_the_cut_texts(run_dir, load_tokenizer(tiny_ckpt)) == {
        "committed",
        "after-think",
        "last-box",
    }
    board = leaderboard.read(out / "leaderboard.parquet").to_pylist()
    entries = {(r["task"], r["budget"], r["n"], r["problems"], r["answer_policy"]) for r in board}
    for policy in ("committed", "after-think", "last-box"):
        assert ("aime24", 8, 3, 3, policy) in entries and ("synthetic", 48, 3, 3, policy) in entries
    assert main(["leaderboard", "--results", str(out), "--answer-policy", "last-box,committed"]) == 0
    table = capsys.readouterr().out
    assert "last-box" in table and "committed" in table and "after-think" not in table


def test_a_regrade_under_a_runs_own_policy_reproduces_its_rows(evaluated):
    _, run_dir = evaluated
    kinds = store.read_manifest(run_dir)["task_kinds"]
    rows = [r for r in store.read_samples(run_dir).to_pylist() if r["answer_policy"] == "committed"]
    full = {(r["task"], r["problem_id"], r["sample_idx"]): r for r in rows if r["response"] is not None}
    decode = regrade.LazyDecoder(store.read_manifest(run_dir)["checkpoint"])
    for r in rows:
        new, items = regrade.rows_for(
            full[(r["task"], r["problem_id"], r["sample_idx"])], [r["budget"]], "committed", decode, kinds
        )
        (g,) = regrade.grade_cuts(items, "committed", 5.0)
        new[0].update(regrade.verdict_columns(g, "committed"))
        same = ("budget", "response_tokens", "think_tokens", "answer_tokens", "finish_reason", "truncated")
        same += ("think_closed", "repetition_loop", *VERDICT)
        assert {c: new[0][c] for c in same} == {c: r[c] for c in same}


def test_regrade_killed_mid_way_resumes(evaluated, tmp_path):
    _, src = evaluated
    run_dir = tmp_path / "runs" / src.name
    run_dir.mkdir(parents=True)
    # only the committed rows: the regrade below has the whole run to do
    store.write_shard(run_dir, store.read_samples(src).filter(_policy_is("committed")).to_pylist())
    (run_dir / "manifest.json").write_text((src / "manifest.json").read_text())
    first = {p.name for p in store.shard_paths(run_dir)}
    argv = [sys.executable, "-m", "harness.cli", "regrade", str(run_dir), "--answer-policy", "strict", "--chunk", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for(lambda: len(store.shard_paths(run_dir)) > len(first) + 1 or proc.poll() is not None)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    partial = store.read_samples(run_dir).to_pylist()  # readable after the kill
    committed = sum(r["answer_policy"] == "committed" for r in partial)
    assert 0 < sum(r["answer_policy"] == "strict" for r in partial) < committed
    assert main(["regrade", str(run_dir), "--answer-policy", "strict", "--no-leaderboard"]) == 0
    rows = store.read_samples(run_dir).to_pylist()
    assert sum(r["answer_policy"] == "strict" for r in rows) == sum(r["answer_policy"] == "committed" for r in rows)
    assert len({_key(r) for r in rows}) == len(rows)  # nothing twice


def test_regrade_errors_are_one_line(tmp_path, capsys):
    assert main(["regrade", str(tmp_path / "nope"), "--answer-policy", "strict"]) == 2
    assert "no run" in capsys.readouterr().err
    bad = tmp_path / "runs" / "bad"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text("{not json")
    assert main(["regrade", str(bad), "--answer-policy", "strict"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read its manifest.json" in err
    with pytest.raises(SystemExit):
        main(["regrade", str(bad), "--answer-policy", "nope"])


def _key(r: dict) -> tuple:
    return r["task"], r["problem_id"], r["sample_idx"], r["budget"], r["answer_policy"]


def _policy_is(name: str):
    import pyarrow.compute as pc

    return pc.equal(pc.field("answer_policy"), name)


def _wait_for(done, timeout: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:  # the backstop of a wait on a file
            pytest.fail("timed out waiting")
        time.sleep(0.05)
