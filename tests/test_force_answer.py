"""`harness eval --force-answer` on a tiny model with the hf backend: only samples a budget cut
before they answered are continued, by at most --force-tokens tokens after the delimiter and the template's answer
prefix; the forced verdict is the grade of the cut text plus that tail; a rerun forces nothing new; a kill -9
during the run, then a rerun, gives the same rows as a run never killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pyarrow.compute as pc
import pytest

from harness import forcing, leaderboard, store
from harness.backends import load_tokenizer
from tasks import get_template
from tasks.grading import config_for, grade
from tests.test_eval import _build_tiny, harness_eval

FLAGS = ("--tasks", "aime24", "--limit", 3, "--n", 2, "--max-tokens", "6,24", "--force-answer", "--force-tokens", 5)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir: HARNESS_DATA_DIR must be set)
    return _build_tiny(tmp_path_factory.mktemp("tiny-force"))


@pytest.fixture(scope="module")
def forced_run(tiny_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("force")
    assert harness_eval(tiny_ckpt, out, *FLAGS) == 0
    (run_dir,) = (out / "runs").iterdir()
    return out, run_dir


def test_only_cut_unanswered_samples_are_forced(forced_run, tiny_ckpt):
    out, run_dir = forced_run
    tok = load_tokenizer(tiny_ckpt)
    rows = store.read_samples(run_dir).to_pylist()
    full = {(r["task"], r["problem_id"], r["sample_idx"]): r for r in rows if r["response"] is not None}
    forced = {tuple(r[k] for k in store.FORCED_KEY): r for r in store.read_forced(run_dir).to_pylist()}
    want = {tuple(r[k] for k in store.FORCED_KEY) for r in rows if r["truncated"] and r["status"] == "no_answer"}
    assert forced and set(forced) == want  # every cut, unanswered row and nothing else
    prefix = get_template("boxed").answer_prefix
    stopped = 0
    for key, f in forced.items():
        sample = full[key[:3]]
        ids = sample["token_ids"][: key[3]]
        cut_text = tok.decode(ids, skip_special_tokens=True)
        wanted_prefix = tok(forcing.prefix_text(cut_text, False, prefix), add_special_tokens=False)["input_ids"]
        assert f["forced_token_ids"][: f["forced_prefix_tokens"]] == wanted_prefix  # delimiter and prefix first
        assert 0 < len(f["forced_token_ids"]) - f["forced_prefix_tokens"] <= 5  # then at most --force-tokens
        # ... ending with the token that ends the answer's line (forcing.STOP), when one came before the limit
        continuation = f["forced_token_ids"][f["forced_prefix_tokens"] :]
        assert "\n" not in tok.decode(continuation[:-1], skip_special_tokens=True)
        stopped += "\n" in tok.decode(continuation, skip_special_tokens=True)
        g = grade(cut_text + f["forced_tail"], sample["gold"], config=config_for("integer"), truncated=False)
        assert (g.extracted, g.status, g.correct) == (f["forced_extracted"], f["forced_status"], f["forced_correct"])
    board = leaderboard.read(out / "leaderboard.parquet").to_pylist()
    assert all(r["forced_avg"] is not None for r in board)


def test_a_rerun_forces_nothing_new(forced_run, tiny_ckpt, capsys):
    out, run_dir = forced_run
    before = sorted(p.name for p in run_dir.glob("*.parquet"))
    capsys.readouterr()
    assert harness_eval(tiny_ckpt, out, *FLAGS) == 0
    captured = capsys.readouterr()
    assert "0 sample(s) to generate" in captured.err and "forced to answer" not in captured.err
    assert "forced (%)" in captured.out
    assert sorted(p.name for p in run_dir.glob("*.parquet")) == before


def test_kill_during_the_run_then_rerun_gives_the_same_rows(forced_run, tiny_ckpt, tmp_path):
    _, reference = forced_run
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "harness.cli", "eval", "--ckpt", str(tiny_ckpt), "--backend", "hf"]
    argv += ["--out", str(out), "--no-progress", "--flush-secs", "0", *map(str, FLAGS)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list(out.glob("runs/*/shard-*.parquet")) and proc.poll() is None:  # waits on the first shard
            if time.monotonic() > deadline:  # the backstop of a wait on a file
                pytest.fail("no shard was written")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert harness_eval(tiny_ckpt, out, *FLAGS) == 0
    (run_dir,) = (out / "runs").iterdir()
    assert run_dir.name == reference.name
    assert _forced(run_dir) == _forced(reference)
    assert _verdicts(run_dir) == _verdicts(reference)


def _forced(run_dir):
    return sorted(tuple(v for k, v in r.items() if k != "forced_at") for r in store.read_forced(run_dir).to_pylist())


def _verdicts(run_dir):
    t = store.read_samples(run_dir)
    t = t.filter(pc.invert(pc.is_null(t["status"])))
    keep = ["task", "problem_id", "sample_idx", "budget", "answer_policy", "status", "extracted", "truncated"]
    return sorted(tuple(r.values()) for r in t.select(keep).to_pylist())


def test_compare_shows_the_forced_accuracy(forced_run, capsys):
    from harness.cli import main

    out, run_dir = forced_run
    capsys.readouterr()
    assert main(["compare", run_dir.name, "--results", str(out), "--no-plot"]) == 0
    assert "forced %" in capsys.readouterr().out


def test_the_viewer_marks_the_forced_tail(forced_run, tiny_ckpt):
    """`harness view`'s data: a forced budget carries the stored tail and forced verdict (the page draws the tail
    at the cut, apart from the sample's own text); budgets not forced carry none."""
    from harness.view import data

    out, run_dir = forced_run
    results = data.load(out, tokenizer=str(tiny_ckpt))
    forced = {tuple(r[k] for k in store.FORCED_KEY[:4]): r for r in store.read_forced(run_dir).to_pylist()}
    rows = store.read_samples(run_dir).to_pylist()
    seen_forced = seen_plain = 0
    for task, pid in sorted({(r["task"], r["problem_id"]) for r in rows}):
        problem = data.problem_samples(results, run_dir.name, task, pid)
        for s in problem["samples"]:
            detail = data.sample_detail(results, run_dir.name, task, pid, s["idx"])
            for b in detail["budgets"]:
                f = forced.get((task, pid, s["idx"], b["budget"]))
                assert (b["forced"] is None) == (f is None)
                assert s["at"][str(b["budget"])]["forced"] == b["forced"]
                if f is None:
                    seen_plain += 1
                    continue
                seen_forced += 1
                assert b["truncated"] and b["status"] == "no_answer"  # only a cut, unanswered budget was forced
                assert b["forced"]["tail"] == f["forced_tail"]
                assert (b["forced"]["status"], b["forced"]["extracted"], b["forced"]["correct"]) == (
                    f["forced_status"],
                    f["forced_extracted"],
                    f["forced_correct"],
                )
                assert b["forced"]["tokens"] == len(f["forced_token_ids"])
                assert b["forced"]["prefix_tokens"] == f["forced_prefix_tokens"]
    assert seen_forced and seen_plain
