"""Our answer checker against Math-Verify, same cases, same machine, same run.

Three workloads: the labelled cases of tests/data/grading_cases.jsonl as written ("short"), and
AIME-style answers (integers 0-999, right, padded, wrong, in boxed / Answer: / phrase form) behind
60,000 characters of reasoning ("long"), and MATH-style free-form answers in short responses ("free": 20
golds, each as written, rewritten and as a near miss, repeated as answers repeat within RL groups). Each checker grades one case at a time on the main thread;
we report agreement with the labels, false positives, throughput and per-call latency, and our
batch API on the long workload as an extra row. Both checkers are warmed up before timing.

    pip install math-verify  # the benchmark's only extra; the tests never import it
    python benchmarks/grader.py [--long 240] [--free 5] [--only free]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from tasks.grading import grade, grade_batch, warm_up

CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "grading_cases.jsonl"


def short_cases() -> list[tuple[str, str, bool]]:
    rows = [json.loads(line) for line in CASES.read_text().splitlines()]
    return [
        (r["response"], r["gold"], r["correct"])
        for r in rows
        if isinstance(r["response"], str) and isinstance(r["gold"], str) and not r.get("response_is_bytes")
    ]


def reasoning(rng: random.Random, chars: int) -> str:
    """Chain-of-thought-like filler: prose, inline LaTeX, arithmetic and second thoughts."""
    parts, n = [], 0
    while n < chars:
        a, b = rng.randint(2, 999), rng.randint(2, 99)
        s = rng.choice(
            [
                f"Let me compute ${a} \\times {b} = {a * b}$. ",
                f"Wait, that is not right. Suppose $x = {a}$; then $x^2 - {b}x = {a * a - b * a}$. ",
                f"So the remainder of {a} divided by {b} is {a % b}, hence we consider \\frac{{{a}}}{{{b}}}. ",
                "Hmm, let me double-check the previous step before moving on. ",
                f"Thus the number of cases is {a}, but we must subtract the {b} overcounted ones. ",
            ]
        )
        parts.append(s)
        n += len(s)
    return "".join(parts)[:chars]


def long_cases(n: int, chars: int = 60_000) -> list[tuple[str, str, bool]]:
    rng = random.Random(0)
    out = []
    for i in range(n):
        gold = rng.randint(0, 999)
        form = i % 4
        think = reasoning(rng, chars)
        if form == 0:
            out.append((f"<think>{think}</think>\nThe answer is $\\boxed{{{gold}}}$.", str(gold), True))
        elif form == 1:
            out.append((f"{think}\n\nTherefore the final answer is $\\boxed{{{gold:03d}}}$.", str(gold), True))
        elif form == 2:
            out.append((f"{think}\n\nAnswer: {gold}", f"{gold:03d}", True))
        else:
            out.append((f"<think>{think}</think>\n$\\boxed{{{gold + 1}}}$", str(gold), False))
    return out


# MATH-style free-form golds, each with an equal rewriting and a near miss (short responses, no long CoT).
FREE = [
    (r"\frac{3}{4}", "0.75", r"\frac{4}{3}"),
    (r"\frac{\sqrt{3}}{2}", r"\frac{1}{2}\sqrt{3}", r"\frac{\sqrt{2}}{2}"),
    (r"2\sqrt{2}", r"\sqrt{8}", r"\sqrt{6}"),
    (r"x^2+2x+1", r"(x+1)^2", r"(x-1)^2"),
    (r"(-\infty, 3]", r"(-\infty,3]", r"(-\infty, 3)"),
    (r"\{1, 2, 3\}", r"\{3,2,1\}", r"\{1,2\}"),
    (r"(2, -1)", r"(2,-1)", r"(-1, 2)"),
    (r"\pi/4", r"\frac{\pi}{4}", r"\frac{\pi}{3}"),
    (r"3\pi", r"3 \pi", r"2\pi"),
    (r"\frac{1}{2}", r"0.5", r"0.05"),
    (r"y = 2x + 3", r"y=2x+3", r"y = 3x + 2"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{pmatrix}2\\1\end{pmatrix}"),
    (r"-\frac{7}{2}", r"-3.5", r"\frac{7}{2}"),
    (r"5\sqrt{5}", r"\sqrt{125}", r"5\sqrt{3}"),
    (r"\text{(C)}", r"C", r"B"),
    (r"12\%", r"12", r"13"),
    (r"45^\circ", r"45", r"30"),
    (r"\frac{x+1}{x-1}", r"\frac{1+x}{x-1}", r"\frac{x-1}{x+1}"),
    (r"[0, 1)", r"[0,1)", r"[0, 1]"),
    (r"2, 3", r"3, 2", r"2, 4"),
]


def free_cases(repeat: int) -> list[tuple[str, str, bool]]:
    """Each gold with its own text, an equal rewriting and a near miss, in a short boxed response."""
    out = []
    for _ in range(repeat):
        for gold, same, miss in FREE:
            out += [
                (f"The answer is $\\boxed{{{gold}}}$.", gold, True),
                (f"So the answer is $\\boxed{{{same}}}$.", gold, True),
                (f"Therefore $\\boxed{{{miss}}}$.", gold, False),
            ]
    return out


def ours(response: str, gold: str) -> bool:
    return grade(response, gold, timeout=1.0).correct


def math_verify_checker():
    from math_verify import parse, verify

    def check(response: str, gold: str) -> bool:
        # Math-Verify reads LaTeX only between delimiters: give the bare gold answers some.
        wrapped = gold if "$" in gold or "\\boxed" in gold else f"${gold}$"
        return bool(verify(parse(wrapped), parse(response)))

    return check


def run(name: str, check, cases) -> dict:
    lat, agree, fp = [], 0, 0
    for response, gold, label in cases:
        t = time.perf_counter()
        verdict = check(response, gold)
        lat.append(time.perf_counter() - t)
        agree += verdict == label
        fp += verdict and not label
    return summary(name, lat, len(cases), agree, fp, sum(lat))


def summary(name, lat, n, agree, fp, total) -> dict:
    lat = sorted(lat)
    return {
        "checker": name,
        "cases": n,
        "agree": agree / n,
        "fp": fp,
        "rate": n / total,
        "p50": 1000 * statistics.median(lat),
        "p99": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "max": 1000 * lat[-1],
    }


def run_batch(cases) -> dict:
    t = time.perf_counter()
    grades = grade_batch([c[0] for c in cases], [c[1] for c in cases], timeout=1.0)
    total = time.perf_counter() - t
    agree = sum(g.correct == c[2] for g, c in zip(grades, cases))
    fp = sum(g.correct and not c[2] for g, c in zip(grades, cases))
    per = total / len(cases)
    return {
        "checker": "ours, grade_batch",
        "cases": len(cases),
        "agree": agree / len(cases),
        "fp": fp,
        "rate": len(cases) / total,
        "p50": 1000 * per,
        "p99": float("nan"),
        "max": 1000 * total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--long", type=int, default=240, help="number of long (60,000-character) cases")
    ap.add_argument(
        "--free", type=int, default=5, help="repeats of the 60 free-form cases (answers repeat, as in RL groups)"
    )
    ap.add_argument("--only", choices=["short", "long", "free"], help="run one workload")
    args = ap.parse_args()
    mv = math_verify_checker()
    warm_up()
    ours("\\boxed{\\frac12}", "0.5"), mv("\\boxed{\\frac12}", "0.5")
    rows = []
    workloads = [
        ("short (case file)", short_cases),
        ("long (60k chars, AIME-style)", lambda: long_cases(args.long)),
        ("free (MATH-style free-form)", lambda: free_cases(args.free)),
    ]
    for workload, make in workloads:
        if args.only and not workload.startswith(args.only):
            continue
        cases = make()
        for name, check in [("ours (tasks.grade)", ours), ("Math-Verify 0.9", mv)]:
            rows.append((workload, run(name, check, cases)))
        if workload.startswith("long"):
            rows.append((workload, run_batch(cases)))
        a, b = rows[-2 if workload.startswith("long") else -1][1], rows[-3 if workload.startswith("long") else -2][1]
        print(f"{workload}: ours/Math-Verify throughput {b['rate'] / a['rate']:.1f}x; p99 ours {b['p99']:.1f} ms")
    print("| workload | checker | cases | agreement | false positives | cases/s | p50 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for workload, r in rows:
        print(
            f"| {workload} | {r['checker']} | {r['cases']} | {100 * r['agree']:.1f}% | {r['fp']} | {r['rate']:.0f} "
            f"| {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.1f} |"
        )
    print("\n(grade_batch row: p50 is wall time per case for the whole batch; max is the batch's wall time.)")


if __name__ == "__main__":
    main()
