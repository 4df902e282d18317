"""The answer checker shared by evaluation and RL reward: extract, then verify.

`grade(response, gold)` reads the final answer out of a response (tasks/extract.py) and decides
whether it equals the gold answer. Plain numbers, the AIME case, are settled here in the parent with
exact integer/fraction arithmetic, no sympy and no worker. Everything else goes to a warm pool of
killable worker processes (tasks/workers.py) running tasks/equivalence.py, so a hostile answer costs
at most `timeout` seconds and never hangs or crashes the caller.

`grade` never raises: a failure anywhere maps to status "error". A `timeout` bounds the sympy work
for one answer; the first call in a process also waits for the pool to start (`warm_up()` pays that
up front).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from tasks import workers as worker_pool
from tasks.errors import TaskError
from tasks.extract import LAST_NUMBER_POLICIES, gold_answer, part_boxes
from tasks.normalize import (
    chain_value,
    clean,
    decimal_states,
    integer_digits,
    long_decimal,
    number_text,
    plain_number,
    strip_variable,
)
from tasks.policy import DEFAULT_POLICY, get_policy, read_answer
from tasks.structure import split_top

STATUSES = ("correct", "wrong", "no_answer", "timeout", "error")


@dataclass(frozen=True)
class Grade:
    correct: bool
    extracted: str | None  # the answer as the response wrote it (None: no answer found)
    status: str  # one of STATUSES
    canonical: str | None = None  # a normal form of `extracted` ("25" for "025"), for majority voting


@dataclass(frozen=True)
class GradeConfig:
    """Extraction rules. The defaults suit \\boxed{} and "Answer:" prompts; be strict by default."""

    answer_policy: str = DEFAULT_POLICY  # which part of a response is read, cut or not (tasks/policy.py)
    last_number: str = "line"  # bare-number fallback: "off", "line" (last line is only a number), "any"
    whole_response: bool = True  # a short response with no prose is itself the answer
    strict_think: bool = False  # a response that opens <think> and never closes it has no answer
    max_answer_chars: int = 2000  # longer extracted answers are graded wrong without parsing
    integer: bool = False  # the task asks for an integer (kind "integer": AIME, synthetic): an answer must state
    # one; an expression equal to it ("2 * 7" for "Compute 2 * 7. Give the result as an integer.") is wrong

    def __post_init__(self) -> None:
        get_policy(self.answer_policy)  # TaskError naming the known policies
        if self.last_number not in LAST_NUMBER_POLICIES:
            raise ValueError(f"last_number must be one of {LAST_NUMBER_POLICIES}, got {self.last_number!r}")


DEFAULT = GradeConfig()
INTEGER = GradeConfig(integer=True)
_WHOLE_DECIMAL = re.compile(r"[+-]?\d+\.0+")  # 14.0: an integer, written with a zero fraction


def config_for(kind: str, answer_policy: str = DEFAULT_POLICY) -> GradeConfig:
    """The grading rules of a task's answer kind (tasks.registry.KINDS): "integer" -> INTEGER, else DEFAULT;
    read under `answer_policy` (tasks/policy.py)."""
    base = INTEGER if kind == "integer" else DEFAULT
    return base if answer_policy == base.answer_policy else replace(base, answer_policy=answer_policy)


@dataclass(frozen=True)
class _Pending:
    """An answer the parent could not settle: it needs the workers."""

    extracted: str
    gold: str


def _as_text(x: Any) -> str | None:
    if isinstance(x, str):
        return x
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode("utf-8", errors="replace")
    if isinstance(x, (int, Fraction)) and not isinstance(x, bool):
        return str(x)
    if isinstance(x, float) and x == x and abs(x) != float("inf"):
        return repr(x)
    return None


def _settle(response: Any, gold: Any, config: GradeConfig, truncated: bool = False) -> Grade | _Pending:
    """Everything that needs no sympy: the policy's reading of the response, then the plain-number fast path."""
    gold_text = _as_text(gold)
    if gold_text is None or not gold_text.strip():
        return Grade(False, None, "error")
    text = _as_text(response)
    if text is None:
        return Grade(False, None, "no_answer" if response is None else "error")
    policy = get_policy(config.answer_policy)
    reading = read_answer(
        text,
        policy=policy.name,
        truncated=truncated,
        last_number=config.last_number,
        whole_response=config.whole_response,
        strict_think=config.strict_think,
    )
    extracted = reading.answer
    if policy.whole_text and not truncated and text.strip() == gold_text.strip():
        if len(text) <= config.max_answer_chars:  # the response is the gold answer, character for character
            return _verdict(True, text.strip(), clean(text).text)
    gold_text = gold_answer(gold_text)
    g = clean(gold_text)
    items = split_top(g.text, ",")
    if len(items) > 1 and not g.text.startswith(("(", "[", "\\{")) and extracted is not None:
        parts = part_boxes(
            reading.region, len(items), strict_think=config.strict_think
        )  # (a) \boxed{3} ... (b) \boxed{5}
        if parts is not None:  # parts are ordered: compared as tuples, "(3, 5)" against the gold "(3, 5)"
            extracted, gold_text, g = f"({parts})", f"({gold_text})", clean(f"({g.text})")
    if extracted is None or not extracted.strip():
        return Grade(False, None, "no_answer")
    p = clean(extracted)
    p_text = (chain_value(p.text) or strip_variable(p.text)) if "=" not in g.text else p.text
    pi, gi = integer_digits(p_text), integer_digits(g.text)
    if config.integer and pi is None and not p.percent and not _WHOLE_DECIMAL.fullmatch(p_text):
        return Grade(False, extracted, "wrong", p_text)  # an integer task's answer states an integer, or is none
    if pi is not None and gi is not None and not (p.percent or g.percent):
        return _verdict(pi == gi, extracted, pi)  # digit strings, any length: no int() and its 4,300-digit limit
    if len(extracted) > config.max_answer_chars:
        return Grade(False, extracted[: config.max_answer_chars], "wrong")
    gold_text = gold_text[: config.max_answer_chars * 4]
    if p.percent or g.percent:  # 50% may mean 50 or 1/2: the workers weigh both
        return _Pending(extracted, gold_text)
    pn, gn = plain_number(p_text), plain_number(g.text)
    if pn is not None and gn is not None:
        equal = (
            pn == gn
            or (long_decimal(p_text) is None) != (long_decimal(g.text) is None)
            and (decimal_states(gn, p_text) or decimal_states(pn, g.text))
        )  # 0.0833333333333333 for 1/12, and back
        return _verdict(equal, extracted, number_text(pn))
    if p.text == g.text and p.text:
        return _verdict(True, extracted, p.text)
    return _Pending(extracted, gold_text)


def _verdict(equal: bool, extracted: str, canonical: str | None) -> Grade:
    return Grade(equal, extracted, "correct" if equal else "wrong", canonical)


class _Verdicts:
    """The workers' settled verdicts by (extracted answer, gold), least recently used dropped first: answers
    repeat within a group of samples and across epochs, and a verdict is a pure function of the pair. Only
    "ok" verdicts are kept (a timeout may pass on another try); thread-safe for grade_batch."""

    def __init__(self, size: int = 1 << 16) -> None:
        self.size, self._d, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._d[key] = value
            if len(self._d) > self.size:
                self._d.popitem(last=False)


_VERDICTS = _Verdicts()


def _check(item: _Pending, timeout: float) -> Grade:
    key = (item.extracted, item.gold)
    hit = _VERDICTS.get(key)
    if hit is not None:
        return _verdict(*hit)
    status, equal, canon = worker_pool.get_pool().check(item.extracted, item.gold, timeout)
    canon = canon or clean(item.extracted).text
    if status == "ok":
        _VERDICTS.put(key, (equal, item.extracted, canon))
        return _verdict(equal, item.extracted, canon)
    return Grade(False, item.extracted, status, canon)


# The shortest timeout a check may have: a warm worker answers a plain sympy comparison in a few milliseconds,
# but every timeout kills and restarts a worker (about a second of a core), so a timeout below the time of an
# ordinary check turns a batch of right answers into "timeout" verdicts and the run into worker restarts (at
# 1e-6 s, 1,200 of 1,900 legitimate answers timed out and a batch took 25 times as long).
MIN_TIMEOUT = 0.05


def check_timeout(timeout: Any) -> float:
    """A timeout is a number of seconds, at least MIN_TIMEOUT (`inf`: no bound); anything else is the caller's
    error."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise TaskError(f"timeout must be a positive number of seconds (got {timeout!r})")
    if timeout < MIN_TIMEOUT:
        raise TaskError(f"timeout must be at least {MIN_TIMEOUT} s, the time of an ordinary check (got {timeout!r})")
    return float(timeout)


def grade(
    response: Any, gold: Any, *, timeout: float = 1.0, config: GradeConfig | None = None, truncated: bool = False
) -> Grade:
    """Grade one response against one gold answer. `truncated`: the response was cut by a token budget (it
    did not end by itself); the config's answer policy says what a cut response has answered (tasks/policy.py).
    Never raises on the response or the gold (see the module docstring); a bad `timeout` (not a positive
    number) is a TaskError."""
    check_timeout(timeout)
    try:
        item = _settle(response, gold, config or DEFAULT, bool(truncated))
        return item if isinstance(item, Grade) else _check(item, timeout)
    except Exception:  # the documented never-raise boundary: any failure is a graded "error"
        return Grade(False, None, "error")


def grade_batch(
    responses: Sequence[Any],
    golds: Sequence[Any],
    *,
    timeout: float = 1.0,
    config: GradeConfig | None = None,
    workers: int | None = None,
    truncated: Sequence[bool] | None = None,
) -> list[Grade]:
    """Grade many responses in parallel; each answer is bounded by `timeout`, results keep order.
    `truncated`: per response, whether a budget cut it (default: none was cut)."""
    if len(responses) != len(golds):
        raise ValueError(f"{len(responses)} responses but {len(golds)} gold answers")
    if truncated is not None and len(truncated) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(truncated)} truncation flags")
    check_timeout(timeout)
    cfg = config or DEFAULT
    cut = [False] * len(responses) if truncated is None else [bool(t) for t in truncated]
    results: list[Grade | None] = []
    pending: list[tuple[int, _Pending]] = []
    for i, (r, g) in enumerate(zip(responses, golds)):
        try:
            item = _settle(r, g, cfg, cut[i])
        except Exception:  # same boundary as `grade`
            item = Grade(False, None, "error")
        results.append(item if isinstance(item, Grade) else None)
        if isinstance(item, _Pending):
            pending.append((i, item))
    if pending:
        pool = worker_pool.get_pool()
        n = workers or pool.size
        pool.grow(n)
        with ThreadPoolExecutor(max_workers=n) as ex:
            for (i, _), result in zip(pending, ex.map(lambda p: _check_safely(p[1], timeout), pending)):
                results[i] = result
    return results  # type: ignore[return-value]


def _check_safely(item: _Pending, timeout: float) -> Grade:
    try:
        return _check(item, timeout)
    except Exception:  # same boundary as `grade`
        return Grade(False, item.extracted, "error")


def warm_up(n: int | None = None) -> None:
    """Start the worker pool now (about a second), so the first graded answers pay no start-up."""
    pool = worker_pool.get_pool()
    if n:
        pool.grow(n)
    pool.warm()


def shutdown() -> None:
    """Stop the worker pool (it restarts on demand); also done at interpreter exit."""
    worker_pool.shutdown()
