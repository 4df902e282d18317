"""One line and exit 2 instead of a traceback: output paths that cannot be
written, bad --device, an unreachable hub, help text, filters that match nothing. No model is loaded."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import build_parser, main
from harness.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
FIXTURE_LB = REPO / "tests" / "fixtures" / "leaderboard_v0.parquet"
READ_ONLY = Path("/sys/rlvr-harness-test")  # sysfs: not writable, even for root


@pytest.fixture
def fake_ckpt(tmp_path):
    """Enough of a checkpoint for the flag checks: config.json and a (valid, empty) safetensors file."""
    d = tmp_path / "ckpt"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"max_position_embeddings": 4096}))
    (d / "model.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
    return d


def one_line_error(capsys, *needles) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


def read_only_or_skip():
    try:
        READ_ONLY.mkdir()
    except OSError:
        return
    READ_ONLY.rmdir()
    pytest.skip("/sys is writable here")


def test_eval_out_is_a_file(fake_ckpt, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["eval", "--ckpt", str(fake_ckpt), "--backend", "hf", "--out", str(tmp_path / "file")]) == 2
    one_line_error(capsys, f"--out {tmp_path / 'file'}: exists and is not a folder")


def test_eval_out_read_only(fake_ckpt, capsys):
    read_only_or_skip()
    assert main(["eval", "--ckpt", str(fake_ckpt), "--backend", "hf", "--out", str(READ_ONLY / "out")]) == 2
    one_line_error(capsys, "cannot write in /sys")


def test_leaderboard_and_compare_outputs(tmp_path, capsys):
    assert main(["leaderboard", "--results", str(FIXTURE_LB), "--out", str(tmp_path)]) == 2
    one_line_error(capsys, "is a folder, not a file")
    (tmp_path / "f").write_text("x")
    assert main(["compare", "x", "--results", str(FIXTURE_LB), "--plot", str(tmp_path / "f" / "p.png")]) == 2
    one_line_error(capsys, "--plot", "is not a folder")
    read_only_or_skip()
    assert main(["leaderboard", "--results", str(FIXTURE_LB), "--out", str(READ_ONLY / "lb.md")]) == 2
    one_line_error(capsys, "cannot write in /sys")


def test_train_out_is_a_file(tmp_path, fake_ckpt, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["train", "--model", str(fake_ckpt), "--out", str(tmp_path / "file")]) == 2
    one_line_error(capsys, f"out {tmp_path / 'file'}: cannot write there")


def test_entropy_device():
    import torch

    from harness.entropy.measure import pick_device

    with pytest.raises(UsageError, match="--device foo: not a torch device"):
        pick_device("foo")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="--device cuda: CUDA is not available here"):
            pick_device("cuda")
    assert pick_device("cpu").type == "cpu"


def test_leaderboard_filters_say_what_exists(capsys):
    lb = ["leaderboard", "--results", str(FIXTURE_LB)]
    assert main([*lb, "--budget", "999"]) == 2
    one_line_error(capsys, "no rows at budget(s) 999 (budgets: ")
    assert main([*lb, "--checkpoint", "zzz"]) == 2
    one_line_error(capsys, "no rows for checkpoint 'zzz' (checkpoints: ")
    assert main([*lb, "--task", "nope"]) == 2
    one_line_error(capsys, "no rows for task(s) nope")
    assert main(["compare", "zzz", "--results", str(FIXTURE_LB), "--budget", "999", "--no-plot"]) == 2
    one_line_error(capsys, "no rows at budget(s) 999")


def test_help_shows_defaults():
    sub = build_parser()._subparsers._group_actions[0].choices
    text = sub["eval"].format_help().split("options:", 1)[1]
    for flag, default in [
        ("--n", "16"),
        ("--temperature", "0.6"),
        ("--top-p", "0.95"),
        ("--template", "boxed"),
        ("--backend", "vllm"),
        ("--seed", "0"),
        ("--tensor-parallel-size", "1"),
        ("--concurrency", "64"),
        ("--flush-secs", "5.0"),
        ("--out", "results"),
    ]:
        block = text.split("\n  " + flag + " ", 1)[1].split("\n  -", 1)[0]
        assert f"(default: {default})" in " ".join(block.split()), flag
    timeout = next(a for a in sub["grade"]._actions if "--timeout" in a.option_strings)
    assert timeout.help and "seconds" in timeout.help


def test_unreachable_hub_fails_at_once():
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_DATA_DIR" and "PROXY" not in k.upper()}
    env.update(PYTHONPATH=str(REPO), HF_ENDPOINT="http://127.0.0.1:9")  # a closed port: refused at once
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "tasks"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert (
        done.stderr.count("\n") == 1
        and "127.0.0.1:9 is unreachable" in done.stderr
        and "HARNESS_DATA_DIR" in done.stderr
    )
