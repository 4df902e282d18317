"""What the held-out answers of the CPU study look like, per arm: mean response length (tokens, at the full
budget), the share of responses that end in the template's "Answer: N" line, and among correct responses the
share that only state "a op b = c" (the shortcut the models take) and the share that restate the question
without a result (the old reward hack; the integer rule grades those wrong, so it counts them in all
responses). Also the rollout response length at the first and the last training step (training logs).
Reads a collected study folder (collect.sh; default results/study_cpu); prints Markdown.

    PYTHONPATH=. python results/study_cpu/answers.py results/study_cpu > results/study_cpu/answers.md
"""

import collections
import json
import re
import statistics
import sys
from pathlib import Path

import pyarrow.parquet as pq

from harness import store

ANSWER_LINE = re.compile(r"(?im)^\s*answer\s*:\s*-?\d+\s*\.?\s*$")
EQUATION_ONLY = re.compile(r"\d+\s*[-+*/x×]\s*\d+\s*=\s*-?\d+")
RESTATED = re.compile(r"^\s*\d+\s*[-+*/x×]\s*\d+(\s*[-+*/]\s*\d+)*\s*\.?\s*$")


def _held_out(study: Path) -> dict[str, list[dict]]:
    """Full-budget held-out samples per arm; study.parquet says which evaluation run is which arm's."""
    runs = pq.read_table(study / "study.parquet", columns=["arm", "run_id"]).to_pylist()
    per_arm = collections.defaultdict(list)
    for run_id, arm in dict.fromkeys((r["run_id"], r["arm"]) for r in runs):  # one row per budget: each run once
        columns = ["response", "response_tokens", "extracted", "correct"]
        rows = store.read_samples(study / "results" / "runs" / run_id, columns=columns).to_pylist()
        per_arm[arm].extend(r for r in rows if r["response"] is not None)
    return per_arm


def _rollout_lengths(study: Path) -> dict[str, tuple[list[float], list[float]]]:
    per_arm = collections.defaultdict(lambda: ([], []))
    for log in sorted(study.glob("cells/*/log.jsonl")):
        steps = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        arm = log.relative_to(study / "cells").parts[0].rsplit("-s", 1)[0]
        per_arm[arm][0].append(steps[0]["response_length"])
        per_arm[arm][1].append(steps[-1]["response_length"])
    return per_arm


def main() -> None:
    study = Path(sys.argv[1] if len(sys.argv) > 1 else "results/study_cpu")
    rollouts = _rollout_lengths(study)
    print(
        "| arm | held-out responses | mean tokens | ends in `Answer: N` | correct | of correct: only `a op b = c` "
        "| restated, no result | rollout length step 1 → last |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for arm, rows in _held_out(study).items():
        correct = [r for r in rows if r["correct"]]
        only_equation = [
            r for r in correct if EQUATION_ONLY.search(r["response"]) and not ANSWER_LINE.search(r["response"])
        ]
        restated = [r for r in rows if r["extracted"] and RESTATED.match(r["extracted"])]
        first, last = rollouts.get(arm, ([], []))
        lengths = f"{statistics.mean(first):.0f} → {statistics.mean(last):.0f}" if first else "-"
        print(
            f"| {arm} | {len(rows)} | {statistics.mean(r['response_tokens'] for r in rows):.1f} "
            f"| {100 * sum(bool(ANSWER_LINE.search(r['response'])) for r in rows) / len(rows):.1f} % "
            f"| {100 * len(correct) / len(rows):.1f} % "
            f"| {100 * len(only_equation) / max(1, len(correct)):.1f} % | {len(restated)} | {lengths} |"
        )


if __name__ == "__main__":
    main()
