"""Sample tables shaped like the store's, with known accuracies, for leaderboard and compare tests.

Each sample has a full length; at a budget it is truncated when longer than the budget, and then it is
wrong and has no answer, as a cut-off chain of thought would be.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def make_samples(
    run_id: str,
    checkpoint: str,
    *,
    tasks=("aime24", "aime25"),
    budgets=(20480, 29696),
    n: int = 4,
    problems: int = 6,
    skill: float = 0.5,
    seed: int = 0,
) -> pa.Table:
    """One run's sample rows: every (task, problem, sample, budget), with `skill` the chance of a right answer."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in tasks:
        for p in range(problems):
            pid = f"{task}-{p + 1}"
            for s in range(n):
                length = int(rng.integers(1000, max(budgets) + 4000))
                right = bool(rng.random() < skill)
                answer = "7" if right else str(int(rng.integers(100, 103)))
                for budget in budgets:
                    cut = length > budget
                    rows.append(
                        {
                            "run_id": run_id,
                            "checkpoint": checkpoint,
                            "fingerprint": f"fp-{checkpoint}",
                            "task": task,
                            "task_hash": f"hash-{task}",
                            "template": "boxed",
                            "problem_id": pid,
                            "sample_idx": s,
                            "budget": budget,
                            "response_tokens": min(length, budget),
                            "finish_reason": "length" if cut else "stop",
                            "truncated": cut,
                            "think_closed": not cut,
                            "extracted": None if cut else answer,
                            "canonical": None if cut else answer,
                            "status": "no_answer" if cut else ("correct" if right else "wrong"),
                            "correct": right and not cut,
                        }
                    )
    return pa.Table.from_pylist(rows)


def manifest(run_id: str, checkpoint: str, budgets=(20480, 29696)) -> dict:
    return {
        "run_id": run_id,
        "checkpoint": checkpoint,
        "sampling": {"temperature": 0.6, "top_p": 0.95, "seed": 0},
        "budgets": list(budgets),
        "harness_version": "0.1.0",
        "finished_at": "2025-06-01T12:00:00+00:00",
        "wall_time_s": 12.5,
        "device": "cpu",
    }


def write_run(root, run_id: str, checkpoint: str, **kwargs) -> tuple[pa.Table, dict]:
    """Write a run's samples and manifest under root/runs/<run id>/ and return them."""
    import json

    budgets = kwargs.get("budgets", (20480, 29696))
    table = make_samples(run_id, checkpoint, **kwargs)
    run_dir = root / "runs" / run_id
    run_dir.mkdir(parents=True)
    pq.write_table(table, run_dir / "samples.parquet")
    (run_dir / "manifest.json").write_text(json.dumps(manifest(run_id, checkpoint, budgets)))
    return table, manifest(run_id, checkpoint, budgets)
