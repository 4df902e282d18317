"""Checkpoints side by side from leaderboard rows: scores with intervals, paired differences, budget gains.

Everything here works from the leaderboard alone: each row carries its per-problem counts, so two runs
(or two budgets of one run) are paired problem by problem without reopening the sample store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness import metrics


@dataclass
class Selection:
    """One checkpoint's rows, keyed by (task, budget): wherever several match, the one with the most samples
    (n x problems; a quick `--n 1 --limit 2` never stands in for the full result), then the latest."""

    label: str
    rows: dict[tuple[str, int], dict]
    run_ids: list[str]
    checkpoints: list[str]  # more than one: the name was ambiguous (two folders of the same name)


@dataclass
class Paired:
    diff: float
    lo: float
    hi: float
    problems: int
    verdict: str


def select(rows: list[dict], who: str) -> Selection:
    """The rows of `who`: a run id (or a unique prefix of 6+ characters), a checkpoint path, or its folder name.

    Returns an empty selection when nothing matches; the caller decides how to say so.
    """
    mine = [r for r in rows if _names(r, who)]
    if not mine and len(who) >= 6:
        mine = [r for r in rows if (r["run_id"] or "").startswith(who)]
        if len({r["run_id"] for r in mine}) > 1:
            mine = []  # an ambiguous prefix names nothing
    chosen: dict[tuple[str, int], dict] = {}
    for r in sorted(mine, key=lambda r: ((r["n"] or 0) * (r["problems"] or 0), r["date"] or "")):
        chosen[(r["task"], r["budget"])] = r  # the largest request wins; among equals, the latest
    return Selection(who, chosen, sorted({r["run_id"] for r in mine}), sorted({r["checkpoint"] or "" for r in mine}))


def checkpoint_labels(rows: list[dict]) -> list[str]:
    """Every checkpoint on the leaderboard, by folder name where that is unambiguous, else by full path."""
    paths = sorted({r["checkpoint"] for r in rows if r["checkpoint"]})
    names = [Path(p).name or p for p in paths]
    return [n if names.count(n) == 1 else p for n, p in zip(names, paths)]


def per_problem(row: dict) -> dict[str, float] | None:
    """Each problem's accuracy in this row; None for rows without per-problem counts (schema v0)."""
    ids, ns, cs = row.get("problem_ids"), row.get("problem_n"), row.get("problem_correct")
    if not ids or ns is None or cs is None:
        return None
    return {pid: c / n for pid, n, c in zip(ids, ns, cs)}


def paired(a: dict, b: dict, names: tuple[str, str], *, iters: int, seed: int) -> Paired | None:
    """avg(a) - avg(b) over the problems both rows scored, with a paired bootstrap interval.

    None when either row lacks per-problem counts or they share no problem.
    """
    pa, pb = per_problem(a), per_problem(b)
    if pa is None or pb is None:
        return None
    common = sorted(set(pa) & set(pb))
    if not common:
        return None
    diff, lo, hi = metrics.paired_bootstrap([pa[i] for i in common], [pb[i] for i in common], iters=iters, seed=seed)
    return Paired(diff, lo, hi, len(common), metrics.verdict(lo, hi, names=names))


def requested_budgets(selections: list[Selection], task: str) -> list[int]:
    """The budgets asked for with --max-tokens (not budget-curve points) for `task`, ascending."""
    return sorted({b for s in selections for (t, b), r in s.rows.items() if t == task and not r["curve_point"]})


def tasks_of(selections: list[Selection]) -> list[str]:
    """Tasks in registry order (AIME'24, AIME'25, AIME'26, ...), then any others alphabetically."""
    from tasks import registry

    found = {t for s in selections for t, _ in s.rows}
    known = registry.names()
    return [t for t in known if t in found] + sorted(found - set(known))


def task_name(task: str) -> str:
    """The task's display title from the registry ("AIME'24"); others as they are."""
    from tasks import registry

    return registry.title(task)


def budget_name(budget: int) -> str:
    """29696 -> '29k', 20480 -> '20k' (the paper's names); other budgets as they are."""
    return f"{budget // 1024}k" if budget % 1024 == 0 else str(budget)


def _names(row: dict, who: str) -> bool:
    if row["run_id"] == who:
        return True
    ckpt = row["checkpoint"]
    if not ckpt:
        return False
    return ckpt == who or os.path.abspath(ckpt) == os.path.abspath(who) or Path(ckpt).name == who
