"""`harness study`, the library half: the paper's ablation (arms x seeds) as ordinary `harness` commands.

A study is a YAML file: a base checkpoint, common `harness train` settings, a list of arms (each a named set of
`harness train` overrides: rho, invert, selection, preset, ...), seeds, and a held-out evaluation spec. It becomes
a list of plain commands, so the same study can be run here, printed for a cluster scheduler (`--dry-run`), run
as Ray jobs, or rebuilt into its outputs. The modules, each importing only those above it:

    spec.py    read and check the study file; arms x seeds as cells (`load`, Study, Arm, Cell, EvalSpec)
    stages.py  the commands of every stage, their processes, markers, resume, the premise check, the lock, `run`
    table.py   study.parquet (`table_rows`, `write_parquet`, `evaluated`)
    report.py  report.md and the PNGs, with the statistics only they use; `outputs` writes all three
    ray.py     the stages as Ray jobs (`--executor ray`; `python3 -m harness.study.ray` inside a job); not
               imported here, so importing the package never pays for it

No module of the package imports a command module (harness.commands.*): stages run the `harness` CLI as processes.
This package re-exports the names its callers use.
"""

from harness.metrics import mean_ci
from harness.study.report import (
    Delta,
    arm_like,
    entropy_stats,
    final_rows,
    outputs,
    plots_missing,
    pooled_delta,
    seed_delta,
    timing,
    train_log,
)
from harness.study.spec import Arm, Cell, EvalSpec, Study, eval_switches, load, resolved
from harness.study.stages import (
    Stage,
    base_run_id,
    base_stage,
    cell_stages,
    commands,
    eval_args,
    eval_config,
    lock,
    premise,
    premise_checks,
    prune,
    run,
    run_stage,
)
from harness.study.table import evaluated, override_keys, table_rows, write_parquet

__all__ = [
    "Arm",
    "Cell",
    "Delta",
    "EvalSpec",
    "Stage",
    "Study",
    "arm_like",
    "base_run_id",
    "base_stage",
    "cell_stages",
    "commands",
    "entropy_stats",
    "eval_args",
    "eval_config",
    "eval_switches",
    "evaluated",
    "final_rows",
    "load",
    "lock",
    "mean_ci",
    "outputs",
    "override_keys",
    "plots_missing",
    "pooled_delta",
    "premise",
    "premise_checks",
    "prune",
    "resolved",
    "run",
    "run_stage",
    "seed_delta",
    "table_rows",
    "timing",
    "train_log",
    "write_parquet",
]
