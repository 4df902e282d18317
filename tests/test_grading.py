"""The answer checker: labelled cases, hard rules (never raise, never execute, bounded time), the pool."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tasks import workers
from tasks.grading import Grade, GradeConfig, grade, grade_batch, warm_up

CASES = [json.loads(line) for line in (Path(__file__).parent / "data" / "grading_cases.jsonl").open()]
# A sum that takes sympy seconds to simplify: the slow-but-finite kind of hostile answer.
SLOW = r"\boxed{" + "+".join(f"\\frac{{x^{{{i}}}}}{{x+{i}}}" for i in range(40)) + "}"


def _response(row):
    return row["response"].encode() if row.get("response_is_bytes") else row["response"]


@pytest.fixture(scope="module")
def graded():
    warm_up()
    return grade_batch([_response(r) for r in CASES], [r["gold"] for r in CASES], timeout=5.0)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[r["id"] for r in CASES])
def test_labelled_case(graded, i):
    row, g = CASES[i], graded[i]
    assert isinstance(g, Grade)
    assert g.correct is row["correct"], (row["response"], row["gold"], g)
    if "status" in row:
        assert g.status == row["status"]
    assert g.status == ("correct" if g.correct else g.status)


def test_case_file_is_broad():
    cats = {r["category"] for r in CASES}
    assert len(CASES) >= 400 and len(cats) >= 20
    assert sum(not r["correct"] for r in CASES) >= 150  # plenty of negatives: false positives are the worst error


def test_importing_tasks_stays_light():
    code = "import sys, tasks; tasks.grade('\\\\boxed{033}', '33'); print(sorted(m for m in ('sympy', 'latex2sympy2_extended') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_integer_fast_path_needs_no_workers():
    code = "import tasks, tasks.workers as w; g = tasks.grade('x'*60000 + '\\\\boxed{1,000}', '1000'); print(g.status, g.canonical, w._pool is None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["correct", "1000", "True"]


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('os').system('touch {path}')",
        "eval(\"__import__('os').system('touch {path}')\")",
        "exec('import os; os.system(\"touch {path}\")')",
    ],
)
def test_model_text_is_never_executed(tmp_path, payload):
    target = tmp_path / "pwned"
    text = payload.format(path=target)
    for response, gold in [(f"\\boxed{{{text}}}", "0"), (text, "0"), ("\\boxed{0}", text), (f"Answer: {text}", "x")]:
        g = grade(response, gold, timeout=5.0)
        assert not g.correct
        batch = grade_batch([response], [gold], timeout=5.0)
        assert not batch[0].correct
    assert not target.exists()


class Weird:
    def __str__(self):
        raise RuntimeError("str() must not be called on arbitrary objects")


@pytest.mark.parametrize(
    "response",
    [
        None,
        b"\\boxed{5}",
        b"\xff\xfe\\boxed{5}",
        "a" * 1_000_000,
        "\\boxed{" * 10_000,
        "{" * 10_000 + "}" * 10_000,
        "\\boxed{10^{10^{10^{10}}}}",
        "\\boxed{" + "{" * 10_000 + "5" + "}" * 10_001,
        Weird(),
        [],
        {},
        float("nan"),
        3.5,
        "\\boxed{\\frac{1}{0}}",
        "\\boxed{0^{-1}}",
        "\\boxed{\\begin{pmatrix}1&2\\\\3\\end{pmatrix}}",
        "\ud800\\boxed{5}",
    ],
)
def test_never_raises_and_returns_a_grade(response):
    for gold in ["5", 5, None, b"5", "\\frac{1}{2}", Weird(), ""]:
        g = grade(response, gold, timeout=2.0)
        assert isinstance(g, Grade) and g.status in ("correct", "wrong", "no_answer", "timeout", "error")
        assert g.correct == (g.status == "correct")


def test_timeout_returns_and_the_pool_recovers():
    warm_up()
    pool = workers.get_pool()
    before = {w.proc.pid: w.proc for w in pool._live}
    g = grade(SLOW, "5", timeout=0.3)
    assert g.status == "timeout" and not g.correct and g.extracted
    killed = [proc for pid, proc in before.items() if pid not in {w.proc.pid for w in pool._live}]
    assert len(killed) == 1 and killed[0].wait(timeout=30) == -9  # the overrunning worker got a real SIGKILL
    assert grade("\\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt{2}}", timeout=10).status == "correct"


def test_batch_with_timeouts_keeps_order_and_other_verdicts():
    responses = ["\\boxed{\\sqrt{8}}", SLOW, "\\boxed{7}", "\\boxed{x+1}", SLOW, "\\boxed{\\frac{2}{4}}"]
    golds = ["2\\sqrt{2}", "5", "7", "1+x", "5", "0.5"]
    out = grade_batch(responses, golds, timeout=0.5, workers=2)
    assert [g.status for g in out] == ["correct", "timeout", "correct", "correct", "timeout", "correct"]


def test_batch_length_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="2 responses but 1 gold"):
        grade_batch(["a", "b"], ["a"])


def test_grade_from_many_threads():
    warm_up()
    results = [None] * 16

    def work(i):
        results[i] = grade(f"\\boxed{{\\frac{{{2 * i}}}{{2}} + \\sqrt{{4}}}}", str(i + 2), timeout=10)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(g.status == "correct" for g in results), results


def test_workers_are_replaced_after_a_kill():
    pool = workers.get_pool()
    assert pool.warm()
    before = {w.proc.pid for w in pool._live}
    assert grade(SLOW, "1", timeout=0.3).status == "timeout"
    assert pool.warm()  # the successor starts in the background; wait for it (an event, 60 s backstop)
    after = {w.proc.pid for w in pool._live}
    assert len(after) == len(before) and after != before
    assert grade("\\boxed{\\frac{3}{6}}", "\\frac12 + 0x", timeout=10).status == "correct"


def test_a_timeout_never_hands_the_next_call_a_cold_worker():
    """A correct answer right after a hostile one is graded within a short timeout: a spare ready worker serves it
    (the killed worker's restart, charged to the next call, once made it come back "timeout")."""
    pool = workers.get_pool()
    assert pool.warm()
    ready = {w.proc.pid for w in pool._live}
    waits = pool.cold_waits
    assert grade(SLOW, "1", timeout=0.3).status == "timeout"
    seen = []
    real_send = workers.Worker.send

    def send(self, request):
        seen.append(self.proc.pid)
        return real_send(self, request)

    workers.Worker.send = send
    try:
        results = [grade("\\boxed{x+1}", "1+x", timeout=5).status for _ in range(3)]
    finally:
        workers.Worker.send = real_send
    assert results == ["correct"] * 3
    assert pool.cold_waits == waits and set(seen) <= ready  # served by workers that were ready before the kill


@pytest.mark.parametrize(
    "response, gold, canonical",
    [
        ("\\boxed{025}", "25", "25"),
        ("025", "25", "25"),
        ("\\boxed{1,000}", "1000", "1000"),
        ("\\boxed{\\frac{50}{2}}", "25", "25"),
        ("\\boxed{0.5}", "1/2", "1/2"),
        ("\\boxed{\\dfrac{1}{2}}", "0.5", "1/2"),
        ("\\boxed{24}", "25", "24"),
    ],
)
def test_canonical_form_for_voting(response, gold, canonical):
    assert grade(response, gold, timeout=10).canonical == canonical


def test_last_number_policy_is_configurable():
    text = "We add them up and the total comes to 42 after simplification"
    assert grade(text, "42").status == "no_answer"
    assert grade(text, "42", config=GradeConfig(last_number="any")).status == "correct"
    assert grade("Work...\n42", "42", config=GradeConfig(last_number="off", whole_response=False)).status == "no_answer"
    with pytest.raises(ValueError):
        GradeConfig(last_number="sometimes")


def test_strict_think_policy():
    text = "<think>so it is \\boxed{5}"
    assert grade(text, "5").correct
    assert grade(text, "5", config=GradeConfig(strict_think=True)).status == "no_answer"


def test_extracted_is_what_the_response_wrote():
    g = grade("<think>\\boxed{1}</think> The answer is $\\boxed{\\frac{3}{4}}$.", "0.75")
    assert (g.correct, g.extracted) == (True, "\\frac{3}{4}")


def test_extraction_reads_a_bounded_tail(monkeypatch):
    """4 MB of "the final answer is " stays fast (examining every phrase took ~1.4 s/MB):
    only the last MAX_SCAN_CHARS characters are read and at most MAX_PHRASES phrases examined."""
    from tasks import extract

    calls = []
    real = extract._delimited
    monkeypatch.setattr(extract, "_delimited", lambda rest: calls.append(len(rest)) or real(rest))
    assert grade("the final answer is " * 200_000, "5").status == "no_answer"
    assert len(calls) <= extract.MAX_PHRASES
    filler = "word " * (extract.MAX_SCAN_CHARS // 4)
    assert grade("\\boxed{7}\n" + filler, "7").status == "no_answer"  # before the tail: not read
    assert grade(filler + "\nso \\boxed{7}", "7").status == "correct"
    # a box opened before the cut and open across it is an unfinished answer, never a phrase from inside it
    assert grade("\\boxed{" + filler + "the answer is 5}", "5").status == "no_answer"
    assert len(extract.scan_tail("x" * 10**6)) == extract.MAX_SCAN_CHARS


def test_integers_past_python_int_string_limit_compare_exactly():
    """Integers over 4,300 digits (Python's int-string limit) are graded exactly against the gold."""
    big = "7" + "1234567890" * 1000  # 10,001 digits
    g = grade(f"\\boxed{{{big}}}", big)
    assert (g.status, g.canonical) == ("correct", big)
    assert grade(f"So we are done.\nAnswer: {big}", "000" + big).correct
    assert grade(f"\\boxed{{{big[:-1]}8}}", big).status == "wrong"
    assert grade(f"\\boxed{{{big}0}}", big).status == "wrong"
    assert grade(f"\\boxed{{-{big}}}", big).status == "wrong"


@pytest.mark.parametrize("timeout", [-1, 0, float("nan"), "1", None, True])
def test_bad_timeouts_are_the_callers_error(timeout):
    """A timeout that is not a positive number of seconds is the caller's error (TaskError), in every entry point;
    it once gave a correct answer reward 0.0."""
    from tasks import TaskError, reward

    for call in (
        lambda: grade("\\boxed{x+1}", "1+x", timeout=timeout),
        lambda: grade_batch(["\\boxed{5}"], ["5"], timeout=timeout),
        lambda: reward.score("\\boxed{5}", "5", timeout=timeout),
        lambda: reward.make_trl_reward(timeout=timeout),
    ):
        with pytest.raises(TaskError, match="timeout must be a positive number of seconds"):
            call()


def test_an_infinite_timeout_means_no_bound():
    """An infinite timeout means no bound: grade(timeout=inf) grades (it once returned status "error")."""
    from tasks import reward

    assert grade("\\boxed{x+1}", "1+x", timeout=float("inf")).status == "correct"
    assert reward.score("\\boxed{\\frac{2}{4}}", "0.5", timeout=float("inf")) == 1.0


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--timeout", "-1", "5", "\\boxed{5}"], 2, "--timeout must be a positive number"),
        (["--timeout", "nan", "5", "\\boxed{5}"], 2, "--timeout must be a positive number"),
        (["", "\\boxed{5}"], 2, "the gold answer is empty"),
        (["  ", "\\boxed{5}"], 2, "the gold answer is empty"),
        (["--timeout", "inf", "1+x", "\\boxed{x+1}"], 0, ""),
    ],
)
def test_harness_grade_arguments(args, code, message):
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "grade", *args], capture_output=True, text=True)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
