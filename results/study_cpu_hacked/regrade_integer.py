"""Regrade every stored held-out response of the CPU study with the integer-task rule (tasks.grading.INTEGER: an
answer must state an integer) beside the verdicts stored at evaluation time, and count the bare restatements
("2 * 7" for "Compute 2 * 7."). Reads results/study_cpu_hacked/results (the committed evaluation runs); prints Markdown.

    PYTHONPATH=. python results/study_cpu_hacked/regrade_integer.py > results/study_cpu_hacked/regrade_integer.md
"""

import collections
import re
import statistics
from pathlib import Path

from harness import store
from tasks.grading import INTEGER, grade_batch, warm_up

RUNS = Path(__file__).parent / "results" / "runs"
RESTATED = re.compile(r"^\s*\d+\s*[-+*/x×]\s*\d+(\s*[-+*/]\s*\d+)*\s*\.?\s*$")


def main() -> None:
    warm_up()
    per_arm = collections.defaultdict(list)
    for run in sorted(RUNS.iterdir()):
        ckpt = store.read_manifest(run).get("checkpoint", "")
        cell = ckpt.split("/cells/")[-1].split("/")[0] if "/cells/" in ckpt else "base-s-"
        rows = [
            r
            for r in store.read_samples(run, columns=["response", "gold", "extracted", "correct"]).to_pylist()
            if r["response"] is not None  # the full-budget row of each sample (the shorter budget keeps no text)
        ]
        strict = grade_batch([r["response"] for r in rows], [r["gold"] for r in rows], config=INTEGER)
        arm, seed = cell.rsplit("-s", 1)
        per_arm[arm].append(
            (
                seed,
                sum(r["correct"] for r in rows) / len(rows),
                sum(g.correct for g in strict) / len(rows),
                sum(bool(r["correct"] and r["extracted"] and RESTATED.match(r["extracted"])) for r in rows),
                len(rows),
            )
        )
    print("| arm | seeds | avg@n % as stored (mean) | avg@n % integer rule, per seed | mean | restated of correct |")
    print("|---|---:|---:|---|---:|---:|")
    for arm, cells in per_arm.items():
        cells.sort()
        stored = statistics.mean(c[1] for c in cells)
        strict = [c[2] for c in cells]
        restated = sum(c[3] for c in cells)
        correct = sum(round(c[1] * c[4]) for c in cells)
        print(
            f"| {arm} | {len(cells)} | {100 * stored:.1f} | {', '.join(f'{100 * x:.1f}' for x in strict)} "
            f"| {100 * statistics.mean(strict):.1f} | {restated} of {correct} |"
        )


if __name__ == "__main__":
    main()
