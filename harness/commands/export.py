"""`harness export RUN`: a finished run's problems, filtered by per-problem accuracy, as training data."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="problems of a finished run filtered by accuracy (e.g. '0 < avg < 1') -> "
        "verl/DAPO .parquet or plain .jsonl that harness train reads",
    )
    p.add_argument("run", help="run id (or a unique prefix) under RESULTS/runs, or the run's folder")
    p.add_argument(
        "--where",
        default="0 < avg < 1",
        help="condition on each problem's accuracy: avg (mean correct), n (samples); default: '0 < avg < 1'",
    )
    p.add_argument("--budget", type=int, help="budget whose accuracy counts (default: the run's largest)")
    p.add_argument("--out", required=True, help="output file: .parquet (verl/DAPO convention) or .jsonl (plain rows)")
    p.add_argument("--results", default="results", help="results folder holding runs/ (default results)")
    p.add_argument("--template", default="boxed", help="prompt template for the parquet's chat prompt (default boxed)")
    p.add_argument(
        "--data",
        help="where the run's task data is now, when its recorded source moved: the file, or a folder holding it "
        "(checked against the run's content hash)",
    )
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.errors import UsageError
    from harness.export import export

    run_dir = Path(args.run)
    if not (run_dir / "manifest.json").is_file():
        runs = Path(args.results) / "runs"
        found = sorted(d for d in runs.glob(f"{args.run}*") if d.is_dir()) if runs.is_dir() and args.run else []
        if len(found) != 1:
            raise UsageError(f"run {args.run!r}: {'ambiguous' if found else 'not found'} under {runs}")
        run_dir = found[0]
    n = export(
        run_dir,
        Path(args.out),
        args.where,
        budget=args.budget,
        template=args.template,
        data=args.data,
        force=args.force,
    )
    print(f"{n} problems -> {args.out}")
    return 0
