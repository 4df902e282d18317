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
from harness.eval_defaults import BOOTSTRAP_ITERS, BOOTSTRAP_SEED
from harness.outputs import emit, writable_file


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
    p.add_argument(
        "--iters", type=int, default=BOOTSTRAP_ITERS, help=f"bootstrap resamples (default {BOOTSTRAP_ITERS})"
    )
    p.add_argument("--seed", type=int, default=BOOTSTRAP_SEED, help=f"bootstrap seed (default {BOOTSTRAP_SEED})")
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
            comparison.paper_table(selections, args.format)
            if args.paper_table
            else comparison.report(selections, args.format, iters=args.iters, seed=args.seed)
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
