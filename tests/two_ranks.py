"""Two (or more) real CPU ranks for the distributed tests: `accelerate launch` (torchrun underneath), gloo.

`accelerate launch --cpu --num_processes 2` is not that: without an MPI hostfile it starts ONE process.
`--multi_gpu` starts torch.distributed workers, and the script's own use_cpu (TRL's `--use_cpu`, a config's
`use_cpu=True`) makes each a CPU rank (accelerate's MULTI_CPU state, gloo backend).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accelerate_launch(
    script: str | Path, *args: str, world: int = 2, timeout: float, hung: str, env: dict | None = None
) -> str:
    """Run `script args` on `world` CPU ranks from the repository root; its output (stdout and stderr) when every
    rank exited 0. One thread per rank, offline; `env` adds to the environment. In its own process group: past
    `timeout` seconds the launcher and every rank are killed and the test fails with `hung`."""
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",  # torch.distributed workers; the script's use_cpu makes each a CPU rank on gloo
        "--num_processes",
        str(world),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        str(script),
        *map(str, args),
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        **(env or {}),
    }
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(hung)
    assert proc.returncode == 0, log[-6000:]
    return log
