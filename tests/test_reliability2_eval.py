"""The evaluation under failure: a checker timeout below the floor, `harness eval` on a
real full disk (a small tmpfs mounted by the test), a damaged leaderboard.parquet in --out."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from harness import leaderboard, store
from tasks import files, reward
from tasks.errors import TaskError
from tasks.grading import MIN_TIMEOUT, grade, grade_batch
from tests.test_eval import _build_tiny, harness_eval

FLAGS = ("--tasks", "aime24", "--limit", 2, "--n", 2, "--max-tokens", "8,16")


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir: HARNESS_DATA_DIR must be set)
    return _build_tiny(tmp_path_factory.mktemp("tiny-rel2"))


@pytest.mark.parametrize("timeout", [1e-6, 0.01, MIN_TIMEOUT / 2])
def test_a_timeout_below_the_floor_is_refused_everywhere(timeout):
    for call in (
        lambda: grade("5", "5", timeout=timeout),
        lambda: grade_batch(["5"], ["5"], timeout=timeout),
        lambda: reward.score_batch(["5"], ["5"], timeout=timeout),
        lambda: reward.make_trl_reward(timeout=timeout),
    ):
        with pytest.raises(TaskError, match=f"at least {MIN_TIMEOUT} s"):
            call()
    assert grade("5", "5", timeout=MIN_TIMEOUT).correct


def test_harness_grade_refuses_it_in_one_line(capsys):
    from harness.cli import main

    assert main(["grade", "5", "5", "--timeout", "0.001"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"at least {MIN_TIMEOUT} s" in err


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs, mounted for the test (skipped where mounting is not allowed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def _fill(disk, leave: int) -> None:
    """Fill the disk up to `leave` bytes free."""
    with open(disk / "filler", "wb") as f:
        free = shutil.disk_usage(disk).free
        f.write(b"\0" * max(0, free - leave))


def test_eval_on_a_full_disk_is_one_line_then_resumes(tiny_ckpt, small_disk, capsys):
    out = small_disk / "out"
    _fill(small_disk, 12 * 1024)  # room for the folders and the manifest, not for a shard
    assert harness_eval(tiny_ckpt, out, *FLAGS, "--max-tokens", "8,256") == 2  # one shard, far over the room
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if line.startswith("harness eval: error:")] == [err[-1]]
    assert "no space left writing" in err[-1] and "MiB free" in err[-1] and "Traceback" not in "\n".join(err)
    (run_dir,) = (out / "runs").iterdir()
    assert not files.temporaries(run_dir)  # nothing half-written
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"  # it fits: the shard did not
    (small_disk / "filler").unlink()
    assert harness_eval(tiny_ckpt, out, *FLAGS, "--max-tokens", "8,256") == 0
    assert store.read_manifest(run_dir)["status"] == "finished"
    assert store.read_samples(run_dir).num_rows == 2 * 2 * 2


def test_a_damaged_leaderboard_is_set_aside_and_rebuilt(tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "out"
    assert harness_eval(tiny_ckpt, out, *FLAGS) == 0
    board = out / "leaderboard.parquet"
    before = leaderboard.read(board).to_pylist()
    board.write_bytes(b"PAR1 this is no parquet " + uuid.uuid4().bytes)
    capsys.readouterr()
    assert harness_eval(tiny_ckpt, out, *FLAGS, "--n", 1) == 0  # a new entry: n = 1
    err = capsys.readouterr().err
    assert (
        "is damaged" in err and "set aside as damaged-leaderboard-" in err and "rebuilt 2 row(s) from 1 run(s)" in err
    )
    (aside,) = out.glob("damaged-leaderboard-*.parquet")
    assert aside.read_bytes().startswith(b"PAR1 this is no parquet")
    rows = leaderboard.read(board).to_pylist()
    key = lambda r: (r["task"], r["budget"], r["n"], r["answer_policy"], r["avg"])  # noqa: E731
    assert {key(r) for r in before} <= {key(r) for r in rows}  # the old entries are back
    assert {r["n"] for r in rows} == {1, 2}
    assert harness_eval(tiny_ckpt, out, *FLAGS) == 0  # and later evaluations there just work
    assert "damaged" not in capsys.readouterr().err
