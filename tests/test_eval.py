"""`harness eval` end to end on a tiny random checkpoint through the `hf` backend (real loading, real store).

The checkpoint is built here: a byte-level BPE tokenizer trained on the AIME questions, with a chat
template, and a 2-layer Llama, saved with `save_pretrained` and loaded back by the code users run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest

from harness import store
from harness.cli import main
from harness.repetition import ends_in_loop
from tasks import files
from tests import tiny_bpe

TEMPLATE = tiny_bpe.CHAT


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir: HARNESS_DATA_DIR must be set)
    return _build_tiny(tmp_path_factory.mktemp("tiny-llama"))


def _build_tiny(out: Path) -> Path:
    def likely_end(model, tok):  # make the end token likely enough that some samples stop on their own
        model.lm_head.weight[tok.eos_token_id].fill_(0.05 * model.model.embed_tokens.weight.std().item())

    return tiny_bpe.build(
        out,
        corpus_tasks=("aime24", "aime25", "synthetic"),
        vocab_size=320,
        intermediate_size=128,
        max_positions=2048,
        chat_template=TEMPLATE,
        adjust=likely_end,
    )


def harness_eval(ckpt, out, *extra) -> int:
    argv = ["eval", "--ckpt", str(ckpt), "--backend", "hf", "--out", str(out), "--no-progress", *map(str, extra)]
    return main(argv)


def rows(out: Path):
    (run_dir,) = (out / "runs").iterdir()
    return run_dir, store.read_samples(run_dir)


def keyed(table, budget=None, columns=("response", "token_ids", "finish_reason", "correct", "status", "seed")):
    d = table.to_pylist()
    return {
        (r["task"], r["problem_id"], r["sample_idx"], r["budget"]): tuple(r[c] for c in columns)
        for r in d
        if budget is None or r["budget"] == budget
    }


def test_eval_end_to_end(tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "out"
    flags = ("--tasks", "aime24,aime25", "--limit", 2, "--n", 3, "--max-tokens", "16,40", "--budget-curve", 8)
    flags += ("--temperature", 1.0)
    assert harness_eval(tiny_ckpt, out, *flags) == 0
    printed = capsys.readouterr().out
    assert "| aime24 | 16 |" in printed and "| aime25 | 40 |" in printed

    run_dir, t = rows(out)
    assert t.num_rows == 2 * 2 * 3 * 5  # tasks x problems x n x budgets {8, 16, 24, 32, 40}
    for name in [
        "run_id",
        "task",
        "problem_id",
        "sample_idx",
        "budget",
        "response_tokens",
        "finish_reason",
        "truncated",
        "extracted",
        "status",
        "correct",
        "fingerprint",
        "task_hash",
        "template_hash",
        "seed",
    ]:
        assert name in t.column_names
    keys = list(zip(*(t[c].to_pylist() for c in ("task", "problem_id", "sample_idx", "budget"))))
    assert len(keys) == len(set(keys))
    full = {k[:3]: r for k, r in zip(keys, t.to_pylist()) if k[3] == 40}
    for k, r in zip(keys, t.to_pylist()):
        g = full[k[:3]]
        assert r["response_tokens"] == min(len(g["token_ids"]), r["budget"])
        assert r["truncated"] == (not (g["finish_reason"] == "stop" and len(g["token_ids"]) <= r["budget"]))
        assert r["status"] in {"correct", "wrong", "no_answer", "timeout", "error"}
        assert r["repetition_loop"] == ends_in_loop(g["token_ids"][: r["budget"]])  # per budget, never null
    assert len({r["seed"] for r in full.values()}) == len(full)  # every sample its own seed

    manifest = store.read_manifest(run_dir)
    assert manifest["status"] == "finished" and manifest["budgets"] == [16, 40]
    assert manifest["sampling"] == {"temperature": 1.0, "top_p": 0.95, "max_tokens": 40, "seed": 0}
    assert (out / "leaderboard.parquet").exists()

    # A rerun of the finished run generates nothing and writes no shard.
    shards = store.shard_paths(run_dir)
    assert harness_eval(tiny_ckpt, out, *flags) == 0
    assert "0 sample(s) to generate, 12 already stored" in capsys.readouterr().err
    assert store.shard_paths(run_dir) == shards

    # A new budget below the generation budget is scored from the stored token ids, nothing generated.
    assert (
        harness_eval(
            tiny_ckpt,
            out,
            "--tasks",
            "aime24,aime25",
            "--limit",
            2,
            "--n",
            3,
            "--max-tokens",
            "12,40",
            "--temperature",
            1.0,
        )
        == 0
    )
    assert "0 sample(s) to generate" in capsys.readouterr().err
    _, t2 = rows(out)
    assert t2.filter(pc.field("budget") == 12).num_rows == 12


def test_cut_budget_equals_separate_run(tiny_ckpt, tmp_path):
    """The first B tokens of a long sample are exactly the sample a run with max_tokens=B makes (same seed)."""
    both, short = tmp_path / "both", tmp_path / "short"
    common = ["--tasks", "aime24", "--limit", 2, "--n", 4, "--temperature", 1.0, "--no-leaderboard"]
    assert harness_eval(tiny_ckpt, both, "--max-tokens", "12,48", *common) == 0
    assert harness_eval(tiny_ckpt, short, "--max-tokens", "12", *common) == 0
    cols = ("response_tokens", "truncated", "finish_reason", "extracted", "correct", "repetition_loop")
    a = keyed(rows(both)[1], 12, cols)
    b = keyed(rows(short)[1], 12, cols)
    assert a == b
    ids_long = {k[:3]: v[0] for k, v in keyed(rows(both)[1], 48, ("token_ids",)).items()}
    ids_short = {k[:3]: v[0] for k, v in keyed(rows(short)[1], 12, ("token_ids",)).items()}
    assert all(ids_long[k][:12] == ids_short[k] for k in ids_short)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--n", "0"], "--n must be at least 1"),
        (["--tasks", "aime99"], "unknown task"),
        (["--max-tokens", "4096"], "exceeds the model's context"),
        (["--max-tokens", "0"], "must be positive"),
        (["--template", "nope"], "unknown template"),
        (["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1"], "unreachable"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(tiny_ckpt, tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    with open(tiny_ckpt / "config.json") as f:  # context 2048 makes 4096 too long
        assert json.load(f)["max_position_embeddings"] == 2048
    assert main(["eval", "--ckpt", str(tiny_ckpt), "--backend", "hf", "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_missing_checkpoint(tmp_path, capsys):
    assert main(["eval", "--ckpt", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert f"checkpoint {tmp_path / 'nope'}: not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["eval", "--ckpt", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert f"checkpoint {tmp_path / 'empty'}: no readable config.json (" in capsys.readouterr().err
    (tmp_path / "empty" / "config.json").write_text("{}")
    assert main(["eval", "--ckpt", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert ": no weight files (*.safetensors, *.bin, *.pt, *.gguf)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_resume_after_sigkill(tiny_ckpt, tmp_path):
    """kill -9 mid-run, rerun: the stored samples equal an uninterrupted run's, with no duplicate rows."""
    flags = [
        "--tasks",
        "synthetic",
        "--limit",
        40,
        "--n",
        2,
        "--max-tokens",
        "24,48",
        "--temperature",
        1.0,
        "--flush-secs",
        0,
        "--no-progress",
        "--no-leaderboard",
    ]
    cmd = [sys.executable, "-m", "harness.cli", "eval", "--ckpt", str(tiny_ckpt), "--backend", "hf", *map(str, flags)]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        runs = list((killed / "runs").glob("*/shard-*.parquet")) if (killed / "runs").exists() else []
        if len(runs) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read().decode()[-500:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    run_dir, partial = rows(killed)
    assert 0 < partial.num_rows < 40 * 2 * 2
    assert store.read_manifest(run_dir)["status"] == "running"

    done = subprocess.run([*cmd, "--out", str(killed)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    stored = partial.num_rows // 2  # two budgets per sample
    assert f"{80 - stored} sample(s) to generate, {stored} already stored" in done.stderr
    clean = tmp_path / "clean"
    done = subprocess.run([*cmd, "--out", str(clean)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    a, b = rows(killed)[1], rows(clean)[1]
    assert a.num_rows == b.num_rows == 40 * 2 * 2
    assert keyed(a) == keyed(b)
    assert not files.temporaries(run_dir)
    summary = [line for line in done.stdout.splitlines() if line.startswith("| synthetic")]
    rerun = subprocess.run([*cmd, "--out", str(killed)], capture_output=True, text=True, timeout=600)
    assert [line for line in rerun.stdout.splitlines() if line.startswith("| synthetic")] == summary


def test_prepare_model_bad_input(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert main(["prepare-model", "smollm2", "--out", str(tmp_path / "full")]) == 2
    assert "is not an empty folder" in capsys.readouterr().err
    assert main(["prepare-model", "smollm2", "--out", str(tmp_path / "new"), "--gguf", str(tmp_path / "no.gguf")]) == 2
    assert "is not a file" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_read_samples_of_an_empty_run(tmp_path):
    t = store.read_samples(tmp_path)
    assert t.num_rows == 0 and t.schema == store.SCHEMA


def test_eval_on_a_free_form_file_task_with_leaderboard_and_compare(tiny_ckpt, tmp_path, capsys):
    """A file: task with free-form answers end to end: eval, then the leaderboard and compare on its rows."""
    data = tmp_path / "mine.jsonl"
    data.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"question": "Simplify 2/4.", "answer": "\\frac{1}{2}"},
                {"question": "Solve x^2 = 4 for x > 0.", "solution": "So $x = \\boxed{2}$."},
                {"question": "Where is x^2 < 1?", "answer": "(-1, 1)"},
            ]
        )
    )
    spec, out = f"file:{data}", tmp_path / "out"
    assert harness_eval(tiny_ckpt, out, "--tasks", spec, "--n", 2, "--max-tokens", "8,16") == 0
    printed = capsys.readouterr().out
    assert f"| {spec} | 16 |" in printed
    _, t = rows(out)
    assert set(t["task"].to_pylist()) == {spec} and t.num_rows == 3 * 2 * 2
    assert set(t["problem_id"].to_pylist()) == {"1", "2", "3"}
    assert main(["leaderboard", "--results", str(out), "--task", spec, "--format", "markdown"]) == 0
    board = capsys.readouterr().out
    assert spec in board and "| 16 |" in board
    import shutil

    other = shutil.copytree(tiny_ckpt, tmp_path / "other")
    assert harness_eval(other, out, "--tasks", spec, "--n", 2, "--max-tokens", "8,16", "--seed", 1) == 0
    capsys.readouterr()
    assert main(["compare", str(tiny_ckpt), str(other), "--results", str(out), "--no-plot", "--iters", "200"]) == 0
    compared = capsys.readouterr().out
    assert spec in compared and "paired difference" in compared and "8 -> 16" in compared


def test_export_filters_by_accuracy_and_train_reads_it(tiny_ckpt, tmp_path, capsys):
    """harness export: a finished run's problems as verl/DAPO parquet and plain jsonl, read back by harness train."""
    from harness.export import parse_where, problem_stats
    from train.data import load_items

    rows = [
        {"task": "t", "problem_id": p, "budget": 8, "correct": c}
        for p, cs in [("a", [1, 1]), ("b", [0, 1]), ("c", [0, 0]), ("d", [1, 0])]
        for c in cs
    ]
    stats = problem_stats(rows, 8)
    assert [k[1] for k, s in stats.items() if parse_where("0 < avg < 1")(s)] == ["b", "d"]
    assert [k[1] for k, s in stats.items() if parse_where("avg >= 1 and n == 2")(s)] == ["a"]
    for bad in ("avg", "__import__('os') < 1", "x > 1", "avg >> 1"):
        with pytest.raises(Exception, match="--where"):
            parse_where(bad)

    data = tmp_path / "mine.jsonl"
    data.write_text(
        "".join(json.dumps({"question": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n" for i in range(3))
    )
    out = tmp_path / "out"
    assert (
        harness_eval(tiny_ckpt, out, "--tasks", f"file:{data}", "--n", 2, "--max-tokens", "8", "--no-leaderboard") == 0
    )
    (run_dir,), _ = (out / "runs").iterdir(), capsys.readouterr()
    for name in ("all.parquet", "all.jsonl"):
        assert (
            main(["export", run_dir.name, "--results", str(out), "--where", "avg >= 0", "--out", str(tmp_path / name)])
            == 0
        )
    assert "3 problems" in capsys.readouterr().out
    verl, plain = load_items(str(tmp_path / "all.parquet"), "boxed"), load_items(str(tmp_path / "all.jsonl"), "boxed")
    assert sorted(i.answer for i in verl) == sorted(i.answer for i in plain) == ["0", "2", "4"]
    assert "\\boxed{}" in verl[0].messages[-1]["content"] and {i.id for i in verl} == {"1", "2", "3"}
    assert len(load_items(f"file:{tmp_path / 'all.jsonl'}", "plain")) == 3
    assert (
        main(["export", run_dir.name, "--results", str(out), "--where", "avg > 1", "--out", str(tmp_path / "x.jsonl")])
        == 2
    )
    assert "no problem of run" in capsys.readouterr().err and not (tmp_path / "x.jsonl").exists()
