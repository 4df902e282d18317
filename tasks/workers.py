"""A warm pool of killable worker processes for the sympy half of the checker.

Why processes and SIGKILL: sympy on hostile input can loop in C or eat memory, and neither signal
alarms (main thread only) nor threads can stop it. Why `subprocess` and not `multiprocessing`: the
parent may be a threaded trainer or a vLLM server; a fresh interpreter (fork+exec) inherits no locks,
and unlike spawn/forkserver it never re-imports the user's `__main__`. Workers load only
`tasks.equivalence` (the package `__init__` is bypassed), answer one JSON line per request over a
pipe, and exit when the parent closes it. Only plain bools and strings come back.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

STARTUP_S = 60.0  # a cold worker imports sympy and warms the parser; generous for loaded machines
MEMORY_LIMIT = 4 << 30  # address space per worker: a runaway expression dies with MemoryError
_TASKS_DIR = str(Path(__file__).resolve().parent)
_BOOT = (
    "import sys, types; m = types.ModuleType('tasks'); m.__path__ = [sys.argv[1]]; "
    "sys.modules['tasks'] = m; from tasks.workers import serve; serve()"
)


def die_with_parent(parent_pid: int) -> None:
    """Get SIGKILL when the parent process dies, even while stuck in C code (Linux `PR_SET_PDEATHSIG`), and
    exit at once if it already has; elsewhere a thread polls the parent id (it cannot stop a worker stuck in C).

    The kernel sends the signal when the *thread* that started this process ends, so the parent starts its
    children from one long-lived thread (`_start`)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        linux = sys.platform.startswith("linux") and libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        linux = False
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)
    if not linux:
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


def default_size() -> int:
    return int(os.environ.get("RLVR_GRADER_WORKERS", 0)) or min(8, os.cpu_count() or 1)


# ---- the worker side ---------------------------------------------------------------------------

def serve() -> None:
    """Worker main loop: for each request line, write a verdict line, then a canonical-form line."""
    import resource

    die_with_parent(int(sys.argv[2]))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ValueError, OSError):
        pass  # a lower hard limit is already in place; keep it
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stray prints (parser diagnostics) must not corrupt the pipe
    sys.stdout = sys.stderr

    from tasks.equivalence import canonical, equivalent

    def send(obj: dict) -> None:
        out.write(json.dumps(obj).encode() + b"\n")
        out.flush()

    equivalent("\\frac{1}{2}", "0.5")  # build the parser's tables before the first timed request
    send({"ready": True})
    for line in sys.stdin.buffer:
        req = json.loads(line)
        for step, fn in (("ok", lambda: equivalent(req["pred"], req["gold"])), ("canonical", lambda: canonical(req["pred"]))):
            try:
                send({step: fn()})
            except Exception as e:  # worker boundary: one bad answer must not take the worker down
                send({"error": f"{type(e).__name__}: {str(e)[:200]}"})


# ---- the parent side ---------------------------------------------------------------------------

class Worker:
    def __init__(self) -> None:
        self.proc = _start([sys.executable, "-c", _BOOT, _TASKS_DIR, str(os.getpid())])
        self._buf = b""
        self.ready = False

    def read(self, deadline: float) -> dict | None:
        """The next reply line, or None if the deadline passes or the worker died."""
        fd = self.proc.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                if time.monotonic() >= deadline:
                    return None
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def send(self, request: dict) -> bool:
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
            return True
        except OSError:  # the worker died while idle
            return False

    def wait_ready(self) -> bool:
        if not self.ready:
            self.ready = (self.read(time.monotonic() + STARTUP_S) or {}).get("ready", False)
        return self.ready

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass  # the pipe is already broken; the process is gone either way


_starter: ThreadPoolExecutor | None = None
_starter_lock = threading.Lock()


def _start(argv: list[str]) -> subprocess.Popen:
    """Start a worker from one thread that lives as long as this process (see `die_with_parent`)."""
    global _starter
    with _starter_lock:
        if _starter is None:
            _starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader-starter")
        starter = _starter
    return starter.submit(
        subprocess.Popen, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        close_fds=True, start_new_session=True,  # Ctrl-C in a terminal goes to the parent only
    ).result()


class Pool:
    """Workers checked out one request at a time; a worker that overruns is killed and replaced."""

    def __init__(self, size: int | None = None) -> None:
        self.size = max(1, size or default_size())
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._live: set[Worker] = set()
        self._lock = threading.Lock()

    def grow(self, size: int) -> None:
        with self._lock:
            self.size = max(self.size, size)

    def warm(self) -> None:
        """Start every worker now and wait until they are ready, so no timed call pays start-up."""
        with self._lock:
            new = [Worker() for _ in range(self.size - len(self._live))]
            self._live.update(new)
        for w in new:
            w.wait_ready()
            self._idle.put(w)

    def _acquire(self) -> Worker | None:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._live) < self.size:
                w = Worker()
                self._live.add(w)
                return w
        try:
            return self._idle.get(timeout=STARTUP_S)
        except queue.Empty:
            return None

    def _replace(self, w: Worker) -> None:
        """Kill a worker and start its successor at once, so the pool stays warm."""
        w.kill()
        successor = Worker()
        with self._lock:
            self._live.discard(w)
            self._live.add(successor)
        self._idle.put(successor)

    def check(self, pred: str, gold: str, timeout: float) -> tuple[str, bool, str | None]:
        """(status, equal, canonical); status is "ok", "timeout" or "error"."""
        w = self._acquire()
        if w is None:
            return "timeout", False, None
        if w.proc.poll() is not None or not w.wait_ready() or not w.send({"pred": pred, "gold": gold}):
            self._replace(w)
            return "error", False, None
        deadline = time.monotonic() + timeout
        verdict = w.read(deadline)
        if verdict is None:
            self._replace(w)
            return "timeout", False, None
        if "error" in verdict:
            if w.read(deadline) is None:  # drain the canonical line so the next request starts clean
                self._replace(w)
            else:
                self._idle.put(w)
            return "error", False, None
        canon = w.read(deadline)
        if canon is None:
            self._replace(w)  # the verdict stands; only the normal form ran out of time
            return "ok", bool(verdict["ok"]), None
        self._idle.put(w)
        return "ok", bool(verdict["ok"]), canon.get("canonical")

    def close(self) -> None:
        with self._lock:
            live, self._live = list(self._live), set()
        for w in live:
            w.kill()


_pool: Pool | None = None
_pool_lock = threading.Lock()


def get_pool() -> Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = Pool()
        return _pool


def shutdown() -> None:
    """Kill every worker (also registered at exit)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


def _forget_after_fork() -> None:
    """A forked child must not share its parent's pipes; it starts its own pool when needed."""
    global _pool, _pool_lock, _starter, _starter_lock
    _pool, _pool_lock = None, threading.Lock()
    _starter, _starter_lock = None, threading.Lock()


atexit.register(shutdown)
os.register_at_fork(after_in_child=_forget_after_fork)
