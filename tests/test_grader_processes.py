"""The grading workers die with the process that owns the pool: real processes, real kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.proc_tree import alive, cpu_seconds, descendants, survivors, wait_until

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OWNER = textwrap.dedent("""
    import sys, threading, tasks
    from tasks import workers
    # The pool is built from a thread that ends at once: its workers must outlive that thread.
    t = threading.Thread(target=workers.get_pool().warm); t.start(); t.join()
    print(" ".join(str(w.proc.pid) for w in workers.get_pool()._live), flush=True)
    print(tasks.grade(sys.argv[1], "1", timeout=3600).status, flush=True)  # stuck on a hostile answer
""")


@pytest.mark.slow
def test_workers_die_when_the_owner_is_killed_mid_answer(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO, RLVR_GRADER_WORKERS="2")
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, r"\boxed{(10^{100})!}"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        pids = {int(p) for p in owner.stdout.readline().split()}
        assert len(pids) >= 2 and pids <= descendants(owner.pid)  # 2 workers (+ the warm spare)
        assert all(alive(p) for p in pids)  # the thread that started them is gone; they are not
        start = {p: cpu_seconds(p) for p in pids}
        # One worker is busy on the hostile answer once its CPU time grows (idle workers sleep on their pipe).
        assert wait_until(lambda: any(cpu_seconds(p) - start[p] > 1.0 for p in pids if alive(p)), 120)
        assert owner.poll() is None
    finally:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        owner.stdout.close()
    left = survivors(pids, timeout=30)
    for p in left:  # clean up before failing
        os.kill(p, signal.SIGKILL)
    assert not left, f"grading workers {sorted(left)} outlived their owner"
