"""`harness study --config STUDY.yaml`: arms x seeds of `harness train`, each checkpoint through `harness eval`
on held-out problems, base vs trained through `harness entropy`; then study.parquet, report.md and PNGs.

The study file is checked in full (one line, exit 2) before anything runs, and so is matplotlib for the
PNGs (`--no-plot`: tables only). `--dry-run` prints the exact commands, one group per cell, and runs nothing;
`--jobs N` runs N cells at once; a rerun skips what is done. One study at a time per study folder (a lock
in it): a second one there is one line, exit 2.
The work is `harness.study` (and `harness.study_report` for the report).
"""

from __future__ import annotations

import argparse

from harness.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("study", help="the ablation end to end: arms x seeds, train -> eval -> compare -> entropy")
    p.add_argument("--config", required=True, help="study YAML (see harness/study.py and results/study_cpu/)")
    p.add_argument("--dry-run", action="store_true", help="print the harness commands, one group per cell; run nothing")
    p.add_argument("--jobs", type=int, default=1, help="cells run at once, each as its own processes (default 1)")
    p.add_argument(
        "--report", action="store_true", help="only rebuild study.parquet, report.md and PNGs from what is done"
    )
    p.add_argument("--no-plot", action="store_true", help="write study.parquet and report.md without the PNGs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness import study as S

    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1 (got {args.jobs})")
    study = S.load(args.config)
    if args.dry_run:
        for name, stages in S.commands(study):
            print(f"# {name}")
            for stage in stages:
                print(stage.command)
        return 0
    missing = None if args.no_plot else S.plots_missing()
    if missing:
        raise UsageError(f"the PNGs need matplotlib ({missing}): pip install 'rlvr-harness[plots]', or pass --no-plot")
    with S.lock(study):
        failed = [] if args.report else S.run(study, jobs=args.jobs)
        for path in S.outputs(study, plots=not args.no_plot):
            print(f"wrote {path}")
    if failed:
        print(
            f"harness study: {len(failed)} cell(s) failed: {', '.join(failed)} (logs under {study.out}); "
            "rerun to retry them"
        )
        return 1
    return 0
