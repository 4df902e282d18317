"""`harness compare CKPT_A CKPT_B ...`: checkpoints side by side, with honest intervals, and the paper's table.

Per task and requested budget: each checkpoint's avg@n with its 95 % bootstrap interval; the first
checkpoint minus each of the others (paired over the same problems) with a plain-words verdict; and per
checkpoint the gain from its smallest to its largest budget (the paper's 20k -> 29k). Writes a PNG of
accuracy vs budget. `--paper-table` instead prints rows = checkpoints, columns = AIME'24 / AIME'25 at
each budget, as in the paper's main table.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from harness.commands.options import add_output_arguments, add_source_arguments
from harness.errors import UsageError
from harness.outputs import emit, writable_file
from harness.tables import ci, pct


def register(sub) -> None:
    p = sub.add_parser("compare", help="compare checkpoints (or run ids) per task and budget; the paper's table")
    p.add_argument(
        "checkpoints",
        nargs="*",
        metavar="CKPT",
        help="checkpoint path, its folder name, or a run id; the first is the baseline",
    )
    add_source_arguments(p)
    p.add_argument(
        "--paper-table",
        action="store_true",
        help="rows: checkpoints (all on the leaderboard if none given); columns: task x budget",
    )
    p.add_argument("--plot", help="accuracy-vs-budget PNG (default RESULTS/accuracy_vs_budget.png)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--iters", type=int, default=10000, help="bootstrap resamples (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    add_output_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness import comparison
    from harness import leaderboard as board

    if args.iters < 1:
        raise UsageError(f"--iters must be at least 1, got {args.iters}")
    plot = (
        None
        if args.no_plot or args.paper_table
        else (args.plot or board.locate(args.results).with_name("accuracy_vs_budget.png"))
    )
    for flag, path in (("--out", args.out), ("--plot", plot)):
        if path:
            writable_file(path, flag)
    rows = board.select(board.load_rows(args.results), args.task, args.budget, args.answer_policy)
    who = args.checkpoints or (comparison.checkpoint_labels(rows) if args.paper_table else [])
    if not who:
        raise UsageError("name at least one checkpoint or run id to compare (or use --paper-table)")
    if len(set(who)) != len(who):
        raise UsageError("each checkpoint may be named once")
    policies = _policies(rows, who, args.answer_policy)
    by_policy = {p: [_select([r for r in rows if r["answer_policy"] == p], w) for w in who] for p in policies}
    if not (args.paper_table or args.no_plot or importlib.util.find_spec("matplotlib")):
        raise UsageError("the plot needs matplotlib: pip install 'rlvr-harness[plots]', or pass --no-plot")

    parts = []
    for policy, selections in by_policy.items():
        body = (
            paper_table(selections, args.format)
            if args.paper_table
            else comparison_report(selections, args.format, iters=args.iters, seed=args.seed)
        )
        if args.format == "csv":
            parts.append(body)
        elif len(by_policy) == 1:  # the policy the numbers were read under closes the report
            parts.append(f"{body.rstrip()}\n\nanswer policy: {policy} (tasks/policy.py)\n")
        else:  # several side by side: one section each
            parts.append(f"answer policy: {policy}\n\n{body}")
    emit("\n".join(parts), args.out)
    if not (args.paper_table or args.no_plot):
        from harness import plots

        print(f"wrote {plots.accuracy_vs_budget(by_policy[policies[0]], plot)}", file=sys.stderr)
    return 0


def _policies(rows: list[dict], who: list[str], asked: str | None) -> list[str]:
    """The answer policies to compare under: those asked for, else the default policy when every checkpoint has
    rows under it, else the one policy they all share (printed above the report; never a mix of two)."""
    from harness import comparison
    from tasks.policy import DEFAULT_POLICY

    if asked:
        return list(dict.fromkeys(p.strip() for p in asked.split(",") if p.strip()))
    present = sorted({r["answer_policy"] for r in rows})
    shared = [
        p for p in present if all(comparison.select([r for r in rows if r["answer_policy"] == p], w).rows for w in who)
    ]
    if DEFAULT_POLICY in shared:
        return [DEFAULT_POLICY]
    if len(shared) == 1:
        return shared
    if not shared:
        for w in who:
            _select(rows, w)  # the one-line error for a name that matches nothing
        raise UsageError(
            f"the checkpoints share no answer policy ({', '.join(present)} present); "
            "`harness regrade RUN --answer-policy NAME` adds a policy to a run"
        )
    raise UsageError(f"the checkpoints share several answer policies ({', '.join(shared)}): pass --answer-policy")


def _select(rows: list[dict], who: str):
    from harness import comparison

    s = comparison.select(rows, who)
    if not s.rows:
        known = ", ".join(comparison.checkpoint_labels(rows)) or "none"
        raise UsageError(f"nothing on the leaderboard matches {who!r} (checkpoints: {known})")
    if len(s.checkpoints) > 1:
        raise UsageError(
            f"{who!r} names several checkpoints ({', '.join(s.checkpoints)}); give the full path or a run id"
        )
    if len(s.run_ids) > 1:
        print(
            f"note: {who!r} matches {len(s.run_ids)} runs; using the latest at each task and budget "
            f"(name a run id to choose)",
            file=sys.stderr,
        )
    return s


def comparison_report(selections, fmt: str, *, iters: int, seed: int) -> str:
    """Three sections (scores, paired differences, budget gains) as text/Markdown, or one flat CSV."""
    from harness import comparison, tables

    scores, diffs, gains = [], [], []
    base = selections[0]
    for task in comparison.tasks_of(selections):
        budgets = comparison.requested_budgets(selections, task)
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
                p = comparison.paired(a, b, (base.label, s.label), iters=iters, seed=seed)
                diffs.append(_paired_record("difference", task, budget, base.label, s.label, p))
        for s in selections:
            asked = [b for b in budgets if (task, b) in s.rows]
            if len(asked) < 2:
                continue
            lo_b, hi_b = asked[0], asked[-1]
            p = comparison.paired(
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


def paper_table(selections, fmt: str) -> str:
    """Rows: checkpoints. Columns: each task at each requested budget, avg@n in percent."""
    from harness import comparison, tables

    columns = [(t, b) for t in comparison.tasks_of(selections) for b in comparison.requested_budgets(selections, t)]
    headers = ["checkpoint"] + [f"{comparison.task_name(t)} @{comparison.budget_name(b)}" for t, b in columns]
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
