"""`harness train` records that a second run cannot damage: a run lock on --out,
refusing silent config changes on resume, falling back past a damaged latest checkpoint. Real processes."""

import os
import subprocess
import sys

import pytest
import yaml

from harness.cli import main
from tests.proc_tree import wait_until
from tests.test_train import REPO, flags, log_rows, tiny  # noqa: F401 (tiny: the module-scoped model fixture)


def test_second_run_on_the_same_out_is_refused(tiny, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "harness.cli", "train"]
    first = subprocess.Popen(
        [*cmd, *flags(tiny, out, steps=10_000, save_every=1, keep_last=1)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: (out / "log.jsonl").is_file() or first.poll() is not None, 300)
        assert first.poll() is None
        second = subprocess.run(
            [*cmd, *flags(tiny, out, steps=2, save_every=1)], env=env, capture_output=True, text=True, timeout=300
        )
        lines_then = len(log_rows(out))
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2, second.stderr[-2000:]
    assert second.stderr.strip() == (
        f"harness train: error: out {out}: another training run (pid {first.pid}) is "
        "writing there; wait for it to end or choose another --out"
    )
    rows = log_rows(out)
    assert [r["step"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= lines_then
    # Once the first run is gone (kill -9 releases the lock), the folder is usable again.
    assert main(["train", *flags(tiny, out, steps=len(rows) + 1, save_every=1, keep_last=1)]) == 0


def test_resume_with_changed_settings_is_refused_unless_allowed(tiny, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, steps=1)]) == 0
    before = ((out / "log.jsonl").read_text(), (out / "config.yaml").read_text())
    capsys.readouterr()
    assert main(["train", *flags(tiny, out, steps=2, lr=2e-3, group_size=8)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "lr 0.001 -> 0.002" in err and "group_size 4 -> 8" in err
    assert "--allow-config-change" in err
    assert ((out / "log.jsonl").read_text(), (out / "config.yaml").read_text()) == before  # nothing written
    assert main(["train", *flags(tiny, out, steps=2, lr=2e-3), "--allow-config-change"]) == 0
    rows = log_rows(out)
    assert rows[1] == {"step": 1, "config_change": {"lr": [0.001, 0.002]}}  # from step 2 on
    assert [r["step"] for r in rows if "reward_mean" in r] == [1, 2]
    assert yaml.safe_load((out / "config.yaml").read_text())["lr"] == 0.002
    # Bookkeeping keys (steps, save_every, keep_last) may change without the flag.
    assert main(["train", *flags(tiny, out, steps=3, lr=2e-3, keep_last=3)]) == 0


@pytest.mark.parametrize("damage", ["truncated weights", "garbage state"])
def test_damaged_latest_checkpoint_falls_back_to_the_previous(tiny, tmp_path, capsys, damage):  # noqa: F811
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, steps=2, keep_last=2)]) == 0
    last = out / "checkpoints" / "step_000002"
    if damage == "truncated weights":
        w = last / "model.safetensors"
        w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    else:
        (last / "trainer_state.pt").write_bytes(b"\0garbage" * 100)
    capsys.readouterr()
    assert main(["train", *flags(tiny, out, steps=3, keep_last=2)]) == 0
    said = capsys.readouterr().out
    what = (
        "model.safetensors is damaged (truncated" if damage == "truncated weights" else "trainer_state.pt is damaged ("
    )
    assert f"checkpoint step_000002: {what}" in said and "resuming from step_000001" in said
    assert "resumed from" in said and "at step 1" in said
    assert [r["step"] for r in log_rows(out)] == [1, 2, 3]
    assert (out / "checkpoints" / "step_000002.damaged").is_dir()  # set aside, not deleted
    assert (out / "checkpoints" / "step_000003" / "trainer_state.pt").is_file()


def test_no_intact_checkpoint_is_one_line(tiny, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, steps=1)]) == 0
    (out / "checkpoints" / "step_000001" / "model.safetensors").write_bytes(b"")
    capsys.readouterr()
    assert main(["train", *flags(tiny, out, steps=2)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no intact checkpoint" in err and "truncated" in err
