"""Prints the checker's agreement with a labelled suite: cases, agreement, false positives, false negatives, the
same per source, and every miss. Run: PYTHONPATH=$PWD python tests/data/measure_suite.py tests/data/heldout2_cases.jsonl
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

from tasks.grading import grade_batch, shutdown, warm_up


def measure(path: Path) -> None:
    rows = [json.loads(line) for line in path.open()]
    warm_up()
    out = grade_batch([r["response"] for r in rows], [r["gold"] for r in rows], timeout=30.0)
    per = defaultdict(lambda: [0, 0, 0, 0])  # cases, agree, fp, fn
    misses = []
    for r, g in zip(rows, out):
        for key in (r.get("source", "all"), "ALL"):
            per[key][0] += 1
            per[key][1] += g.correct is r["correct"]
            per[key][2] += g.correct and not r["correct"]
            per[key][3] += (not g.correct) and r["correct"]
        if g.correct is not r["correct"]:
            kind = "FP" if g.correct else "FN"
            misses.append(f"{kind} {r['id']}: response={r['response']!r} gold={r['gold']!r} -> {g.status}")
    print(f"{'source':24} {'cases':>5} {'agree':>7} {'FP':>3} {'FN':>3}")
    for key in sorted(per, key=lambda k: (k == "ALL", k)):
        n, a, fp, fn = per[key]
        print(f"{key:24} {n:5d} {100 * a / n:6.1f}% {fp:3d} {fn:3d}")
    print(f"misses ({len(misses)}):")
    for m in misses:
        print("  " + m)


if __name__ == "__main__":
    try:
        measure(Path(sys.argv[1]))
    finally:
        shutdown()
