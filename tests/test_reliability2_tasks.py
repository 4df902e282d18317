"""`synthetic:size=` has an upper bound (tasks.synthetic.MAX_SIZE), refused in one line."""

import os
import subprocess
import sys

import pytest

import tasks
from tasks import registry
from tasks.errors import TaskError
from tasks.synthetic import MAX_SIZE
from tests.test_train import REPO, tiny  # noqa: F401 (tiny: the module-scoped model fixture)


def test_size_past_the_limit_is_refused_before_anything_is_built():
    with pytest.raises(TaskError, match=rf"^synthetic task: size must be between 1 and {MAX_SIZE} \(got 100000000\)$"):
        tasks.load("synthetic:size=100000000")
    with pytest.raises(TaskError, match="size must be between 1 and"):
        tasks.load("synthetic", size=MAX_SIZE + 1)
    with pytest.raises(TaskError, match="size must be between 1 and"):
        tasks.load("synthetic:size=0")
    assert len(tasks.load("synthetic", size=MAX_SIZE, difficulty=1).problems) == MAX_SIZE  # the limit itself is fine
    assert f"size (1 to {MAX_SIZE})" in registry.get("synthetic").note  # the task's help names the limit


@pytest.mark.parametrize("command", ["tasks", "train"])
def test_cli_says_one_line_and_exits_2(tmp_path, command, request):
    spec = "synthetic:difficulty=1,size=100000000,seed=0"
    if command == "tasks":
        args = [spec]
    else:
        args = ["--data", spec, "--model", str(request.getfixturevalue("tiny")), "--out", str(tmp_path / "run")]
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", command, *args],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"size must be between 1 and {MAX_SIZE} (got 100000000)" in done.stderr
    if command == "train":
        assert not (tmp_path / "run" / "log.jsonl").exists() and not (tmp_path / "run" / "checkpoints").exists()
