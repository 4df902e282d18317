"""Checkpoints side by side from leaderboard rows: scores with intervals, paired differences, budget gains.

Everything here works from the leaderboard alone: each row carries its per-problem counts, so two runs
(or two budgets of one run) are paired problem by problem without reopening the sample store.
`report` renders the scores, differences and gains as `harness compare` prints them; `paper_table` the
paper's main table (checkpoints x task and budget).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness import metrics, tables
from harness.tables import ci, pct


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


def report(selections: list[Selection], fmt: str, *, iters: int, seed: int) -> str:
    """Three sections (scores, paired differences, budget gains) as text/Markdown, or one flat CSV."""
    scores, diffs, gains = [], [], []
    base = selections[0]
    for task in tasks_of(selections):
        budgets = requested_budgets(selections, task)
        for budget in budgets:
            for s in selections:
                r = s.rows.get((task, budget))
                if r is not None:
                    scores.append(
                        [
                            "score",
                            task,
                            budget,
                            s.label,
                            "",
                            r["avg"],
                            r["ci_lo"],
                            r["ci_hi"],
                            r["n"],
                            r["problems"],
                            "",
                            r["run_id"],
                            r["forced_avg"],
                        ]
                    )
            for s in selections[1:]:
                a, b = base.rows.get((task, budget)), s.rows.get((task, budget))
                if a is None or b is None:
                    continue
                p = paired(a, b, (base.label, s.label), iters=iters, seed=seed)
                diffs.append(_paired_record("difference", task, budget, base.label, s.label, p))
        for s in selections:
            asked = [b for b in budgets if (task, b) in s.rows]
            if len(asked) < 2:
                continue
            lo_b, hi_b = asked[0], asked[-1]
            p = paired(
                s.rows[(task, hi_b)], s.rows[(task, lo_b)], ("larger budget", "smaller budget"), iters=iters, seed=seed
            )
            gains.append(_paired_record("budget gain", task, hi_b, s.label, f"budget {lo_b}", p))

    if fmt == "csv":
        headers = [
            "kind",
            "task",
            "budget",
            "checkpoint",
            "versus",
            "value",
            "ci_lo",
            "ci_hi",
            "n",
            "problems",
            "verdict",
            "run_id",
            "forced_value",
        ]
        return tables.render(headers, scores + [d + [None] for d in diffs + gains], "csv")
    title = (lambda t: f"### {t}\n\n") if fmt == "markdown" else (lambda t: f"{t}\n")
    out = [title("avg@n per checkpoint (95% bootstrap CI over problems)")]
    forced = any(row[-1] is not None for row in scores)  # --force-answer runs: their forced avg@n beside
    out.append(
        tables.render(
            ["task", "budget", "checkpoint", "avg@n %", "95% CI", *(["forced %"] if forced else []), "n", "problems"]
            + ["run id"],
            [
                [t, b, who, pct(v), ci(lo, hi), *([pct(fv)] if forced else []), n, m, (rid or "")[:12]]
                for _, t, b, who, _, v, lo, hi, n, m, _, rid, fv in scores
            ],
            fmt,
        )
    )
    if diffs:
        out.append(
            "\n"
            + title(
                f"paired difference, {base.label} minus each other checkpoint (same problems resampled on both sides)"
            )
        )
        out.append(
            tables.render(
                ["task", "budget", "comparison", "diff pts", "95% CI", "problems", "verdict"],
                [
                    [t, b, f"{who} - {vs}", _pts(v), _pts_ci(lo, hi), m, verdict]
                    for _, t, b, who, vs, v, lo, hi, _, m, verdict, _ in diffs
                ],
                fmt,
            )
        )
    if gains:
        out.append("\n" + title("budget gain per checkpoint (largest minus smallest requested budget, paired)"))
        out.append(
            tables.render(
                ["checkpoint", "task", "budgets", "gain pts", "95% CI", "problems", "verdict"],
                [
                    [who, t, f"{vs.split()[-1]} -> {b}", _pts(v), _pts_ci(lo, hi), m, verdict]
                    for _, t, b, who, vs, v, lo, hi, _, m, verdict, _ in gains
                ],
                fmt,
            )
        )
    return "".join(out)


def paper_table(selections: list[Selection], fmt: str) -> str:
    """Rows: checkpoints. Columns: each task at each requested budget, avg@n in percent."""
    columns = [(t, b) for t in tasks_of(selections) for b in requested_budgets(selections, t)]
    headers = ["checkpoint"] + [f"{task_name(t)} @{budget_name(b)}" for t, b in columns]
    body = []
    for s in selections:
        cells = [pct(s.rows[c]["avg"]) if c in s.rows else "-" for c in columns]
        body.append([s.label] + cells)
    return tables.render(headers, body, fmt)


def _paired_record(kind, task, budget, label, versus, p) -> list:
    if p is None:
        return [
            kind,
            task,
            budget,
            label,
            versus,
            None,
            None,
            None,
            None,
            0,
            "no per-problem scores to pair (old leaderboard row or no shared problems)",
            "",
        ]
    return [kind, task, budget, label, versus, p.diff, p.lo, p.hi, None, p.problems, p.verdict, ""]


def _pts(x: float | None) -> str:
    return "" if x is None else f"{100 * x:+.1f}"


def _pts_ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None else f"[{_pts(lo)}, {_pts(hi)}]"
