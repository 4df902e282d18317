"""Child processes that die with `harness`, and SIGTERM handled like Ctrl-C.

vLLM runs its engine core in a child process (and, on CPU or with tensor parallelism, a worker under it).
vLLM's own workers watch a "death pipe" from the engine core and exit when it closes, but the engine core
has no such watch on the process that started it: after `kill -9` of `harness eval` (or the OOM killer) it
kept running, holding the accelerator, so the rerun that resumes the run found no memory. The fix uses
vLLM's general-plugin hook (entry-point group `vllm.general_plugins`, loaded in the engine core and in
every worker): `vllm_plugin` asks the kernel for SIGKILL when the parent dies (Linux `PR_SET_PDEATHSIG`,
`tasks.workers.die_with_parent`). It acts only in processes started by multiprocessing under a harness
command that set `OWNER_ENV`, so other vLLM users in the same environment are left alone.

On SIGTERM (`timeout`, Slurm, docker stop) `harness` raises `Terminated`, a `KeyboardInterrupt`, so the
same clean-up as Ctrl-C runs: finished samples are stored, `VLLMSampler.close()` shuts the engine down
through vLLM's own `shutdown()`, the command exits 143 with one line.

Stdlib only: the plugin is imported in every vLLM process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

OWNER_ENV = "RLVR_HARNESS_OWNER_PID"


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; handled where Ctrl-C is."""


def _raise_terminated(signum, frame):  # noqa: ARG001
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Inside, SIGTERM raises `Terminated` in the main thread; the previous handler is put back after (a caller
    of `harness.cli.main` in its own process keeps its own). Elsewhere than the main thread: no change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def mark_owner() -> None:
    """Children that vLLM starts from now on (through multiprocessing) die with this process."""
    os.environ[OWNER_ENV] = str(os.getpid())


def vllm_plugin() -> None:
    """vLLM general plugin: in a multiprocessing child of a harness process, die with the parent."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if OWNER_ENV not in os.environ or parent is None:
        return  # process0 (harness itself, or someone else's vLLM): leave it alone
    from tasks.workers import die_with_parent

    die_with_parent(parent.pid)
