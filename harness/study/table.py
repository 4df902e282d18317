"""study.parquet: one row per evaluated checkpoint x task x budget (`table_rows`, `write_parquet`), read from the
stage markers (which evaluation ran, its run id) and the study's leaderboard (its scores). The report is made
from these rows (harness.study.report).
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.study.spec import Study, rel, resolved, task_name
from harness.study.stages import base_stage, marker
from tasks.files import atomic_path


def _leaderboard(study: Study) -> dict[str, dict]:
    """(run id, task, budget) -> leaderboard row."""
    from harness import leaderboard

    path = study.results / "leaderboard.parquet"
    rows = leaderboard.read(path).to_pylist() if path.is_file() else []
    return {(r["run_id"], r["task"], r["budget"]): r for r in rows}


def evaluated(study: Study) -> list[dict]:
    """One record per finished evaluation: arm, seed, step, checkpoint, run id (base first, arm None)."""
    out = []
    base = marker(base_stage(study).done)
    if base:
        out.append(
            {
                "arm": "base",
                "seed": None,
                "step": 0,
                "checkpoint": str(study.base),
                "run_id": base["run_id"],
                "cell": None,
            }
        )
    for c in study.cells:
        for s in study.eval_steps(c):
            m = marker(c.dir / "done" / f"eval-step_{s:06d}.json")
            if m:
                out.append(
                    {
                        "arm": c.arm.name,
                        "seed": c.seed,
                        "step": s,
                        "checkpoint": rel(study, c.checkpoint(s)),
                        "run_id": m["run_id"],
                        "cell": c,
                    }
                )
    return out


def override_keys(study: Study) -> list[str]:
    return list(dict.fromkeys(k for a in study.arms for k in a.overrides))


def table_rows(study: Study) -> list[dict]:
    """The rows of study.parquet (see `write_parquet`), every evaluated checkpoint, sorted."""
    board, keys, rows = _leaderboard(study), override_keys(study), []
    for e in evaluated(study):
        for task in study.eval.tasks:
            name = task_name(task)
            for b in study.eval.budgets:
                r = board.get((e["run_id"], name, b))
                if r is None:
                    continue
                row = {
                    "arm": e["arm"],
                    "seed": e["seed"],
                    "step": e["step"],
                    "checkpoint": e["checkpoint"],
                    "run_id": e["run_id"],
                    "task": task,
                    "budget": b,
                    "n": r["n"],
                    "problems": r["problems"],
                    "avg": r["avg"],
                    "se": r["se"],
                    "problem_ids": r["problem_ids"],
                    "problem_n": r["problem_n"],
                    "problem_correct": r["problem_correct"],
                }
                for k in keys:
                    row[k] = _column_value(resolved(e["cell"], k)) if e["cell"] else None
                rows.append(row)
    order = {a.name: i for i, a in enumerate(study.arms)}
    return sorted(rows, key=lambda r: (order.get(r["arm"], -1), r["seed"] or 0, r["step"], r["task"], r["budget"]))


def _column_value(value):
    """A resolved train value as its study.parquet column holds it: a mapping or a list (chat_template_kwargs,
    adam_betas) as JSON text, so two arms that differ only there differ in the table too."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list, tuple)) else value


def write_parquet(study: Study, rows: list[dict], path: Path) -> Path:
    """study.parquet: one row per evaluated checkpoint x task x budget.

    arm (str; "base" for the base checkpoint), seed (int; null for base), step (int; 0 for base),
    checkpoint (str; cell paths relative to the study folder), run_id (str), task (str, the study's spec),
    budget (int), n (int, samples per problem), problems (int), avg (float, avg@n), se (float),
    problem_ids / problem_n / problem_correct (lists, per problem, as on the leaderboard), then one column
    per key any arm overrides, holding that cell's resolved value (null for base).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    fixed = [
        ("arm", pa.string()),
        ("seed", pa.int64()),
        ("step", pa.int64()),
        ("checkpoint", pa.string()),
        ("run_id", pa.string()),
        ("task", pa.string()),
        ("budget", pa.int64()),
        ("n", pa.int64()),
        ("problems", pa.int64()),
        ("avg", pa.float64()),
        ("se", pa.float64()),
        ("problem_ids", pa.list_(pa.string())),
        ("problem_n", pa.list_(pa.int64())),
        ("problem_correct", pa.list_(pa.int64())),
    ]
    types = {bool: pa.bool_(), int: pa.int64(), float: pa.float64()}
    extra = [
        (k, types.get(type(next((r[k] for r in rows if r[k] is not None), "")), pa.string()))
        for k in override_keys(study)
    ]
    schema = pa.schema(fixed + extra)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), f)
    return path
