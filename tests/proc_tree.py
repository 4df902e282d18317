"""Process-tree helpers for the kill tests: descendants from /proc, and waiting on process states (no sleeps)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for c in children(todo.pop()) - found:
            found.add(c)
            todo.append(c)
    return found


def alive(pid: int) -> bool:
    """Running, sleeping or stopped; a zombie (dead, not yet reaped) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until(predicate, timeout: float, poll: float = 0.05) -> bool:
    """Poll `predicate` until true; `timeout` is only the backstop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())


def survivors(pids, timeout: float = 30.0) -> set[int]:
    """The pids still alive once all are dead or `timeout` passed."""
    pids = set(pids)
    wait_until(lambda: not any(alive(p) for p in pids), timeout)
    return {p for p in pids if alive(p)}
