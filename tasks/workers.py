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
SPARES = 1  # workers kept ready beyond the pool size, so a kill never leaves the next call a cold worker
# One answer of each common shape: a fresh worker's first `simplify`, interval or matrix is several times slower
# than later ones, so a worker is "ready" only after it has done each once.
WARM_UP = (  # each path of the checker once (not the benchmark's cases: nothing they ask is cached in advance)
    ("\\frac{3}{5}", "0.6"),
    ("t+2", "2+t"),
    ("(t-2)^2", "t^2-4t+4"),
    ("t^2", "t^3"),
    ("\\frac{t+2}{t-3}", "\\frac{2+t}{t-3}"),
    ("\\sqrt{12}", "2\\sqrt{3}"),
    ("[3, 4)", "[3,4)"),
    ("\\{5, 6\\}", "\\{6, 5\\}"),
    ("\\begin{pmatrix}3\\\\4\\end{pmatrix}", "\\begin{pmatrix}3\\\\4\\end{pmatrix}"),
    ("\\cos(\\pi/3)", "1/2"),
    ("\\frac{\\pi}{6}", "\\pi/5"),
    ("\\sqrt{5+2\\sqrt{6}}", "\\sqrt{2}+\\sqrt{3}"),
    ("\\frac{\\sqrt{5}}{3}", "\\frac{1}{3}\\sqrt{5}"),
    ("\\begin{pmatrix}3\\\\4\\end{pmatrix}", "\\begin{pmatrix}4\\\\3\\end{pmatrix}"),
    ("y = 3t + 1", "3t - y = -1"),
    ("y = 3t + 1", "y = t + 3"),
)
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
        linux = (
            sys.platform.startswith("linux") and libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0
        )  # PR_SET_PDEATHSIG
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

    from tasks.equivalence import canonical, equivalent, to_sympy

    def send(obj: dict) -> None:
        out.write(json.dumps(obj).encode() + b"\n")
        out.flush()

    for pair in WARM_UP:  # build the parser's tables and import sympy's lazy modules before the first request
        equivalent(*pair)
        canonical(pair[0])  # simplify's first call alone costs ~0.2 s
    to_sympy.cache_clear()
    send({"ready": True})
    for line in sys.stdin.buffer:
        req = json.loads(line)
        for step, fn in (
            ("ok", lambda: equivalent(req["pred"], req["gold"])),
            ("canonical", lambda: canonical(req["pred"])),
        ):
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
            if left <= 0 or not poller.poll(None if left == float("inf") else left * 1000):
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
        subprocess.Popen,
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,  # Ctrl-C in a terminal goes to the parent only
    ).result()


class Pool:
    """Workers checked out one request at a time; a worker that overruns is killed and replaced.

    Only ready workers wait in `_idle`. A killed worker's successor starts and warms up in a background
    thread, and `SPARES` extra workers are kept ready, so the call after a timeout gets a warm worker at
    once: one call's restart is never charged to the next. Only the very first call of a process (or one
    that finds every worker busy) waits for a worker; that wait is not part of its `timeout`, which bounds
    the check itself (`grading.warm_up()` pays the start-up in advance).
    """

    def __init__(self, size: int | None = None) -> None:
        self.size = max(1, size or default_size())
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._live: set[Worker] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified whenever a worker becomes ready or is dropped
        self.cold_waits = 0  # checks that found no ready worker and had to wait for one (observable in tests)
        self._closed = False

    def grow(self, size: int) -> None:
        with self._lock:
            self.size = max(self.size, size)

    def _target(self) -> int:
        return self.size + SPARES

    def _start_missing(self) -> list[Worker]:
        with self._lock:
            if self._closed:
                return []
            new = [Worker() for _ in range(self._target() - len(self._live))]
            self._live.update(new)
        return new

    def warm(self, timeout: float = STARTUP_S) -> bool:
        """Start the missing workers and wait until every worker is ready (True), so no timed call pays start-up."""
        self._refill()
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._closed and not (len(self._live) >= self._target() and all(w.ready for w in self._live)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _ready(self, w: Worker) -> None:
        """Wait for a started worker's ready line, then offer it; a worker that never gets ready is dropped."""
        try:
            ready = w.wait_ready()
        except (OSError, ValueError):  # the pool was closed (its pipes too) while this worker started
            ready = False
        if ready and not self._closed:
            self._idle.put(w)
        else:
            with self._lock:
                self._live.discard(w)
            w.kill()
        with self._changed:
            self._changed.notify_all()

    def _acquire(self) -> Worker | None:
        """A ready worker; one that died while idle is replaced and the next one taken."""
        for _ in range(self._target() + 1):
            w = self._take()
            if w is None or w.proc.poll() is None:
                return w
            self._replace(w)
        return None

    def _take(self) -> Worker | None:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        self.cold_waits += 1
        self._refill()
        try:
            return self._idle.get(timeout=STARTUP_S)
        except queue.Empty:
            return None

    def _replace(self, w: Worker) -> None:
        """Kill a worker; its successor warms up in the background and joins the idle queue when ready."""
        with self._lock:
            self._live.discard(w)
        threading.Thread(target=self._kill_and_refill, args=(w,), daemon=True, name="grader-refill").start()

    def _kill_and_refill(self, w: Worker) -> None:
        w.kill()
        self._refill()

    def _refill(self) -> None:
        """Start the missing workers and warm each one up in its own thread, off the caller's critical path."""
        for w in self._start_missing():
            threading.Thread(target=self._ready, args=(w,), daemon=True, name="grader-warm").start()

    def check(self, pred: str, gold: str, timeout: float) -> tuple[str, bool, str | None]:
        """(status, equal, canonical); status is "ok", "timeout" or "error"."""
        w = self._acquire()
        if w is None:
            return "timeout", False, None
        if not w.send({"pred": pred, "gold": gold}):
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
            self._closed = True
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
