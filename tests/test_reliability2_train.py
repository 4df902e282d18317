"""`harness train` after an interrupted log append and on a real full disk.

A step's log line is appended before its checkpoint is written, so a kill or a full disk inside the append
leaves an incomplete last line; a resume counts it as not written. On a full disk (a real tmpfs mounted
here, skipped where mounting is not allowed) the run stops with one line, exit 2, the partial checkpoint
or log line removed, and a rerun with room completes with a consistent log."""

import errno
import json
import os
import subprocess

import pytest
import yaml

from harness.cli import main
from tasks import files
from tests.test_train import flags, log_rows, tiny  # noqa: F401 (tiny: the module-scoped model fixture)

PAGE = 4096  # tmpfs allocates whole pages: a write into a file's last page needs no new space


def _steps(out):
    return [r["step"] for r in log_rows(out) if "reward_mean" in r]


def _error(err: str) -> str:
    """The one error line (transformers' loading bar may precede it on stderr), with no traceback."""
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("harness train: ")]
    return line


def _ckpts(out):
    return sorted(p.name for p in (out / "checkpoints").iterdir())


def test_incomplete_last_log_line_is_not_written(tiny, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, steps=2, keep_last=2)]) == 0
    row = log_rows(out)[-1] | {"step": 3}
    with (out / "log.jsonl").open("a") as fh:  # an append of step 3 cut short (kill -9, full disk)
        fh.write(json.dumps(row)[:57])
    capsys.readouterr()
    assert main(["train", *flags(tiny, out, steps=3, keep_last=2)]) == 0
    said = capsys.readouterr().out
    assert "log.jsonl: dropped an incomplete last line (57 characters" in said and "at step 2" in said
    assert _steps(out) == [1, 2, 3]
    assert not files.temporaries(out)


def test_log_lines_after_the_checkpoint_and_a_partial_one_are_dropped(tiny, tmp_path, capsys):  # noqa: F811
    """save_every 2: step 3's line has no checkpoint; the partial step-4 line is dropped with it."""
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, steps=3, save_every=2, keep_last=2)]) == 0
    (out / "checkpoints" / "step_000003").rename(out / "checkpoints" / "gone")  # as if killed before saving step 3
    with (out / "log.jsonl").open("a") as fh:
        fh.write('{"step": 4, "lr": 0.0')
    capsys.readouterr()
    assert main(["train", *flags(tiny, out, steps=3, save_every=2, keep_last=2)]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert _steps(out) == [1, 2, 3]


def test_damaged_complete_log_line_is_one_line(tiny, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, steps=2, keep_last=2)]) == 0
    lines = (out / "log.jsonl").read_text().splitlines(keepends=True)
    (out / "log.jsonl").write_text(lines[0][:30] + "\n" + lines[1])  # damage inside the file, not at its end
    before = (out / "log.jsonl").read_bytes()
    capsys.readouterr()
    assert main(["train", *flags(tiny, out, steps=3, keep_last=2)]) == 2
    assert "log.jsonl line 1 is not JSON" in _error(capsys.readouterr().err)
    assert (out / "log.jsonl").read_bytes() == before


def test_unfinished_checkpoint_of_a_killed_save_is_removed(tiny, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, steps=1)]) == 0
    stale = out / "checkpoints" / "step_000007.tmp"  # what kill -9 inside checkpoint.save leaves
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"\0" * 1000)
    capsys.readouterr()
    assert main(["train", *flags(tiny, out, steps=2, keep_last=1)]) == 0
    assert "removed step_000007.tmp" in capsys.readouterr().out
    assert _ckpts(out) == ["step_000002"]


# ----------------------------------------------------------------------------- a real full disk


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def _fill(disk, leave: int = 0) -> None:
    """Take all but about `leave` bytes of the disk's free space; 0: every page, written until the OS refuses."""
    st = os.statvfs(disk)
    todo = st.f_bavail * st.f_frsize - leave
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while todo > 0 or not leave:
            try:
                todo -= os.write(fd, b"\0" * (min(todo, 1 << 20) if todo > 0 else PAGE))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC and not leave, exc
                break
    finally:
        os.close(fd)


@pytest.mark.parametrize("leave,what", [(40_000, "the weights"), (150_000, "the trainer state")])
def test_full_disk_at_the_checkpoint(tiny, small_disk, capsys, leave, what):  # noqa: F811
    out = small_disk / "run"
    assert main(["train", *flags(tiny, out, steps=1, keep_last=1)]) == 0
    _fill(small_disk, leave)
    capsys.readouterr()
    assert main(["train", *flags(tiny, out, steps=2, keep_last=1)]) == 2
    assert _error(capsys.readouterr().err) == (
        f"harness train: error: out {out}: cannot write checkpoint step_000002 (No space left on device), "
        "partial folder removed; rerun to resume from step_000001 once there is room"
    ), what
    assert _ckpts(out) == ["step_000001"]  # no step_000002.tmp
    assert _steps(out) == [1, 2]  # step 2's line, with no checkpoint: the resume drops it
    (small_disk / "filler").unlink()
    assert main(["train", *flags(tiny, out, steps=2, keep_last=1)]) == 0
    assert "at step 1" in capsys.readouterr().out
    assert _steps(out) == [1, 2] and _ckpts(out) == ["step_000002"]


def test_full_disk_inside_the_log_append(tiny, small_disk, capsys):  # noqa: F811
    out = small_disk / "run"
    assert main(["train", *flags(tiny, out, steps=1, keep_last=1)]) == 0
    log = out / "log.jsonl"
    # A complete line of step 1 that leaves 100 bytes in the log's last page: step 2's line (~900 bytes)
    # is then written in part before the disk refuses the rest: a real partial append.
    pad = (PAGE - 100 - log.stat().st_size - len('{"step": 1, "pad": ""}\n')) % PAGE
    with log.open("a") as fh:
        fh.write(json.dumps({"step": 1, "pad": "x" * pad}) + "\n")
    assert log.stat().st_size % PAGE == PAGE - 100
    before = log.read_bytes()
    _fill(small_disk)
    capsys.readouterr()
    # --steps 2 changes config.yaml, which is replaced whole (a new file): no room for it, one line.
    config = (out / "config.yaml").read_text()
    assert main(["train", *flags(tiny, out, steps=2, keep_last=1)]) == 2
    assert (
        _error(capsys.readouterr().err)
        == f"harness train: error: out {out}: cannot write config.yaml (No space left on device)"
    )
    assert (out / "config.yaml").read_text() == config and not files.temporaries(out)
    # As a run started with --steps 2 wrote it: the resume has nothing to write before step 2's log line.
    (out / "config.yaml").write_text(yaml.safe_dump(yaml.safe_load(config) | {"steps": 2}, sort_keys=False))
    assert main(["train", *flags(tiny, out, steps=2, keep_last=1)]) == 2
    assert _error(capsys.readouterr().err) == (
        f"harness train: error: out {out}: cannot append step 2 to log.jsonl (No space left on device); "
        "rerun to resume from step_000001 once there is room"
    )
    assert log.read_bytes() == before  # the part that was written is cut back off
    assert _ckpts(out) == ["step_000001"]
    (small_disk / "filler").unlink()
    assert main(["train", *flags(tiny, out, steps=2, keep_last=1)]) == 0
    assert _steps(out) == [1, 2] and _ckpts(out) == ["step_000002"]


def test_full_disk_when_the_resume_rewrites_the_log(tiny, small_disk, capsys):  # noqa: F811
    """The log is replaced whole or not at all: a rewrite that finds no room leaves it as it was."""
    out = small_disk / "run"
    assert main(["train", *flags(tiny, out, steps=1, keep_last=1)]) == 0
    log = out / "log.jsonl"
    with log.open("a") as fh:
        fh.write('{"step": 2, "lr"')  # an append cut short: the resume must drop it, so it rewrites the log
    before = log.read_bytes()
    _fill(small_disk)
    capsys.readouterr()
    assert main(["train", *flags(tiny, out, steps=2, keep_last=1)]) == 2
    assert (
        _error(capsys.readouterr().err)
        == f"harness train: error: out {out}: cannot write log.jsonl (No space left on device)"
    )
    assert log.read_bytes() == before and not files.temporaries(out)
    (small_disk / "filler").unlink()
    assert main(["train", *flags(tiny, out, steps=2, keep_last=1)]) == 0
    assert _steps(out) == [1, 2]
