"""`harness study --config STUDY.yaml`: arms x seeds of `harness train`, each checkpoint through `harness eval`
on held-out problems, base vs trained through `harness entropy`; then study.parquet, report.md and PNGs.

The study file is checked in full (one line, exit 2) before anything runs, and so is matplotlib for the
PNGs (`--no-plot`: tables only). `--dry-run` prints the exact commands, one group per cell, and runs nothing;
`--jobs N` runs N cells at once; a rerun skips what is done. One study at a time per study folder (a lock
in it): a second one there is one line, exit 2.
`--executor ray [--ray-address ADDR]` submits every stage as a Ray job instead (harness.study.ray): the study
folder must be on storage every node sees, which is checked (one line, exit 2) before any stage is submitted.
Before any stage, the arms that select tokens by entropy get the paper's premise checked on the base model, once
(`harness.study.stages.premise`, `harness entropy --premise` in a process here with either executor): the verdict is
printed as a note, opens report.md, and never stops the study (`--dry-run` prints its command on stderr).
The work is the package `harness.study` (its modules: spec, stages, table, report, ray).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from harness.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("study", help="the ablation end to end: arms x seeds, train -> eval -> compare -> entropy")
    p.add_argument("--config", required=True, help="study YAML (see harness/study/spec.py and results/study_cpu/)")
    p.add_argument("--dry-run", action="store_true", help="print the harness commands, one group per cell; run nothing")
    p.add_argument(
        "--jobs", type=int, default=1, help="cells run at once, each as its own processes or Ray jobs (default 1)"
    )
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: stages run as processes here (default); ray: each stage is a Ray job (Jobs API) asking for "
        "the study file's resources: {train: {num_gpus: N}, eval: ..., entropy: ...}. With ray the study folder "
        "(and this working directory) must be on storage every node sees at the same path; checked at start",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        help="the Ray job server, http://HEAD:8265 (default: $RAY_API_SERVER_ADDRESS, $RAY_ADDRESS, else this "
        "machine's cluster); needs pip install 'rlvr-harness[ray]'",
    )
    p.add_argument(
        "--report", action="store_true", help="only rebuild study.parquet, report.md and PNGs from what is done"
    )
    p.add_argument("--no-plot", action="store_true", help="write study.parquet and report.md without the PNGs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness import study as S
    from harness.study import ray as R  # light: Ray itself is imported by R.connect

    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1 (got {args.jobs})")
    if args.ray_address is not None and args.executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    study = S.load(args.config)
    if args.dry_run:
        for cmd, _, arms in S.premise_checks(study):  # on stderr: stdout holds the stages alone
            print(
                f"# pre-flight note, run here first, for {', '.join(arms)}: harness {shlex.join(cmd)}", file=sys.stderr
            )
        if args.executor == "ray":
            R.dry_run(study, args.ray_address)
            return 0
        for name, stages in S.commands(study):
            print(f"# {name}")
            for stage in stages:
                print(stage.command)
        return 0
    ray = args.executor == "ray" and not args.report  # --report submits nothing
    cluster = R.connect(args.ray_address) if ray else None  # Ray importable, its job server reachable: or one line
    missing = None if args.no_plot else S.plots_missing()
    if missing:
        raise UsageError(f"the PNGs need matplotlib ({missing}): pip install 'rlvr-harness[plots]', or pass --no-plot")
    if ray:  # before any other work: one line when a node cannot see the study folder
        R.check_visible(cluster, study)
    with S.lock(study):
        if not (ray or args.report):  # a Ray job of an earlier driver may still write here: one line
            R.refuse_pending(study)
        if ray:
            failed = R.run(study, cluster, jobs=args.jobs, say=lambda m: print(m, flush=True))
        elif args.report:
            failed = []
        else:
            failed = S.run(study, jobs=args.jobs)
        for path in S.outputs(study, plots=not args.no_plot):
            print(f"wrote {path}")
    if failed:
        print(
            f"harness study: {len(failed)} cell(s) failed: {', '.join(failed)} (logs under {study.out}); "
            "rerun to retry them"
        )
        return 1
    return 0
