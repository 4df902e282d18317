"""`harness leaderboard`: print or export the leaderboard, filtered by task and budget, sorted by a metric.

Rows are grouped by task, budget and answer policy (accuracies on different tasks or budgets do not rank
against each other; one run read under several policies shows them side by side) and sorted within each
group by the chosen metric, best first. Table and Markdown show the headline columns in percent; CSV exports
every scalar field at full precision.
"""

from __future__ import annotations

import argparse
import json

from harness import tables
from harness.commands.options import add_output_arguments, add_source_arguments
from harness.errors import UsageError
from harness.outputs import emit, writable_file
from harness.tables import ci, pct

SORT_KEYS = (
    "avg",
    "se",
    "pass@K",
    "maj@K",
    "truncation_rate",
    "repetition_rate",
    "acc_untruncated",
    "mean_tokens",
    "seconds_per_solved",
    "device_seconds_per_solved",
    "date",
)
HEADERS = [
    "checkpoint",
    "task",
    "budget",
    "policy",
    "n",
    "problems",
    "avg@n %",
    "± SE",
    "95% CI",
    "pass@k %",
    "maj@k %",
    "trunc %",
    "loop %",
    "acc not trunc %",
    "tokens mean/median",
    "think closed %",
    "think/answer tok",
    "s/solved",
    "run id",
    "date",
]


def register(sub) -> None:
    p = sub.add_parser("leaderboard", help="print or export the leaderboard (filter by task/budget, sort by a metric)")
    add_source_arguments(p)
    p.add_argument("--checkpoint", help="only rows whose checkpoint path contains this text")
    p.add_argument(
        "--sort",
        default="avg",
        help="metric to sort by within each task and budget: " + ", ".join(SORT_KEYS) + " (default avg)",
    )
    p.add_argument("--ascending", action="store_true", help="smallest first")
    p.add_argument("--curve", action="store_true", help="include --budget-curve points, not just requested budgets")
    add_output_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness import leaderboard as board

    if args.out:
        writable_file(args.out, "--out")
    rows = board.select(board.load_rows(args.results), args.task, args.budget, args.answer_policy)
    if args.checkpoint:
        known = sorted({r["checkpoint"] for r in rows if r["checkpoint"]})
        rows = [r for r in rows if args.checkpoint in (r["checkpoint"] or "")]
        if not rows:
            raise UsageError(f"no rows for checkpoint {args.checkpoint!r} (checkpoints: {', '.join(known) or 'none'})")
    if not args.curve:
        rows = [r for r in rows if not r["curve_point"]]
    key = sort_key(args.sort)
    present = [r for r in rows if key(r) is not None]
    present.sort(key=key, reverse=not args.ascending)
    rows = present + [r for r in rows if key(r) is None]
    rows.sort(key=lambda r: (r["task"] or "", r["budget"] or 0, r["answer_policy"]))  # stable: metric order inside

    if args.format == "csv":
        names = [n for n in rows[0] if not n.startswith("problem_")] if rows else []
        text = tables.render(names, [[r[n] for n in names] for r in rows], "csv")
    else:
        text = tables.render(HEADERS, [display_row(r) for r in rows], args.format)
    emit(text, args.out)
    return 0


def sort_key(metric: str):
    """A function giving each row's value of `metric` (None when the row lacks it)."""
    if metric.startswith(("pass@", "maj@")):
        field, _, k = metric.partition("@")
        if not k.isdigit():
            raise UsageError(f"--sort {metric}: write pass@K or maj@K with K a number, e.g. pass@8")
        return lambda r: json.loads(r[f"{field}_at_k"] or "{}").get(k)
    if metric not in SORT_KEYS:
        raise UsageError(f"unknown --sort metric {metric!r} (choose from {', '.join(SORT_KEYS)})")
    return lambda r: r[metric]


def display_row(r: dict) -> list[str]:
    pass_k, maj_k = _top_k(r["pass_at_k"]), _top_k(r["maj_at_k"])
    tokens = "/".join("" if t is None else f"{t:.0f}" for t in (r["mean_tokens"], r["median_tokens"]))
    return [
        r["checkpoint"] or "?",
        r["task"],
        str(r["budget"]),
        r["answer_policy"],
        _int(r["n"]),
        _int(r["problems"]),
        pct(r["avg"]),
        pct(r["se"]),
        ci(r["ci_lo"], r["ci_hi"]),
        f"{pct(pass_k[1])} (k={pass_k[0]})" if pass_k else "",
        f"{pct(maj_k[1])} (k={maj_k[0]})" if maj_k else "",
        pct(r["truncation_rate"]),
        pct(r["repetition_rate"]),
        pct(r["acc_untruncated"]),
        tokens,
        pct(r["think_closed_rate"]),
        "/".join("" if t is None else f"{t:.0f}" for t in (r["mean_think_tokens"], r["mean_answer_tokens"])),
        "" if r["seconds_per_solved"] is None else f"{r['seconds_per_solved']:.3g}",
        (r["run_id"] or "")[:12],
        (r["date"] or "")[:10],
    ]


def _top_k(blob: str | None) -> tuple[int, float] | None:
    values = json.loads(blob) if blob else {}
    if not values:
        return None
    k = max(values, key=int)
    return int(k), values[k]


def _int(x) -> str:
    return "" if x is None else str(x)
