"""A study's work: the `harness` commands of every stage (`commands`), run as processes here (`run_stage`) or by
another executor (harness.study.ray), each marked done only after its command exited 0; the premise check before
any stage (`premise`); one study at a time per folder (`lock`). The layout of a study folder:

    OUT/results/                        `harness eval --out`: runs/<run id>/ and leaderboard.parquet
    OUT/done/base-eval.json             the base checkpoint's evaluation (once for the whole study)
    OUT/premise/                        `harness entropy --premise` of the base, before any stage, when an arm selects
                                        tokens by entropy (premise.md, premise.json; `premise`): a note, not a stage
    OUT/cells/<arm>-s<seed>/train/      `harness train --out`: checkpoints/, log.jsonl, config.yaml
    OUT/cells/<arm>-s<seed>/entropy/    `harness entropy --compare BASE FINAL` over the base run's responses
    OUT/cells/<arm>-s<seed>/done/*.json one marker per finished stage (train, eval-step_N, entropy)
    OUT/cells/<arm>-s<seed>/logs/*.log  each stage's stdout and stderr
    OUT/cells/<arm>-s<seed>/jobs/*.json `--executor ray` only: the Ray job of a stage in flight (harness.study.ray)
    OUT/study.parquet, report.md, *.png the outputs (harness.study.report.outputs)

The study never imports a command module: every stage is the `harness` CLI in a process of its own, and the base
evaluation's run id (known before it runs: run ids are content-addressed) comes from harness.evaluate.plan.

One study at a time per folder: `harness study` (and `--report`) holds harness.store.RunLock on OUT/.lock (`lock`)
while it runs stages or writes outputs, so a second one cannot delete a checkpoint the first one's entropy stage is
reading; kill -9 releases it.

Resuming: a stage whose marker exists is skipped; a marker is written (atomically: `tasks.files.atomic_write_json`, a temporary
file renamed into place) only after its command exited 0, and every command resumes on its own (`harness train` from
its latest checkpoint, `harness eval` from its stored samples; the leaderboard replaces a run's rows rather than
adding them twice). So a study killed at any point (kill -9 included: its children die with it,
tasks.workers.die_with_parent) and started again ends with the same files.

Executors: `run` takes the function that runs one stage; `run_stage` runs it as a process here, harness.study.ray
submits it as a Ray job whose process calls `run_stage` on a node (same command, log and marker).
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from harness.study.spec import Cell, Study, eval_switches, resolved
from tasks.files import atomic_write_json
from tasks.workers import die_with_parent


@dataclass
class Stage:
    name: str  # marker name: base-eval, train, eval-step_000020, entropy
    args: list[str]  # `harness` arguments
    done: Path  # marker file
    log: Path

    @property
    def command(self) -> str:
        return "harness " + shlex.join(self.args)


def _flag(key: str, value) -> str:
    if isinstance(value, dict):  # chat_template_kwargs: a JSON object on the command line
        value = json.dumps(value, sort_keys=True)
    elif isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return f"--{key.replace('_', '-')}={value}"


def eval_args(study: Study, ckpt: Path, cell: Cell | None = None) -> list[str]:
    """`harness eval` of a checkpoint of `cell` (None: the base checkpoint), under its prompt switches."""
    e = study.eval
    args = [
        "eval",
        "--ckpt",
        str(ckpt),
        "--tasks",
        ",".join(e.tasks),
        "--n",
        str(e.n),
        "--max-tokens",
        ",".join(map(str, e.budgets)),
        "--temperature",
        str(e.temperature),
        "--top-p",
        str(e.top_p),
        "--template",
        e.template,
        "--backend",
        e.backend,
        "--seed",
        str(e.seed),
        "--out",
        str(study.results),
        "--no-progress",
    ]
    system, kwargs = eval_switches(study, cell)
    args += [_flag("system_prompt", system)] if system is not None else []
    args += [_flag("chat_template_kwargs", kwargs)] if kwargs else []
    return args + (["--limit", str(e.limit)] if e.limit else [])


def base_stage(study: Study) -> Stage:
    return Stage(
        "base-eval",
        eval_args(study, study.base),
        study.out / "done" / "base-eval.json",
        study.out / "logs" / "base-eval.log",
    )


def base_run_id(study: Study) -> str:
    """The run id `harness eval` gives the base evaluation (content-addressed: known before it runs), from
    harness.evaluate.plan of the config its flags (`eval_args`) stand for."""
    from harness import evaluate

    return evaluate.plan(eval_config(study, study.base)).run_id


def eval_config(study: Study, ckpt: Path, cell: Cell | None = None):
    """The harness.evaluate.EvalConfig that `harness eval` builds from `eval_args(study, ckpt, cell)`: the same
    values with the types its flags have (tests/test_study.py holds the two to the same run id)."""
    import tasks
    from harness.evaluate import EvalConfig

    e = study.eval
    system, kwargs = eval_switches(study, cell)
    return EvalConfig(
        ckpt=str(ckpt),
        tasks=tasks.split_names(",".join(e.tasks)),
        n=int(e.n),
        budgets=[int(b) for b in e.budgets],
        temperature=float(e.temperature),
        top_p=float(e.top_p),
        template=e.template,
        backend=e.backend,
        seed=int(e.seed),
        limit=e.limit or None,
        out=str(study.results),
        system_prompt=system,
        chat_template_kwargs=kwargs,
    )


def cell_stages(study: Study, cell: Cell, base_run: str) -> list[Stage]:
    def stage(name, args):
        return Stage(name, args, cell.dir / "done" / f"{name}.json", cell.dir / "logs" / f"{name}.log")

    train = ["train"] + (["--config", study.train_config] if study.train_config else [])
    train += [_flag(k, v) for k, v in {**study.train, **cell.arm.overrides}.items()]
    train += [_flag("model", study.base), _flag("seed", cell.seed), _flag("out", cell.dir / "train")]
    train += ["--no-premise"]  # the study checks the premise once for all its arms (`premise`)
    if study.eval.every:  # every evaluated checkpoint must be saved and kept
        train += [_flag("save_every", study.eval.every), _flag("keep_last", len(study.eval_steps(cell)) + 1)]
    stages = [stage("train", train)]
    stages += [stage(f"eval-step_{s:06d}", eval_args(study, cell.checkpoint(s), cell)) for s in study.eval_steps(cell)]
    if study.entropy:
        final = cell.checkpoint(cell.train.steps)
        args = [
            "entropy",
            "--run",
            base_run,
            "--results",
            str(study.results),
            "--compare",
            str(study.base),
            str(final),
            "--rho",
            str(study.entropy["rho"]),
            "--out",
            str(cell.dir / "entropy"),
            "--no-progress",
        ]
        stages.append(
            stage("entropy", args + (["--limit", str(study.entropy["limit"])] if study.entropy["limit"] else []))
        )
    return stages


def commands(study: Study) -> list[tuple[str, list[Stage]]]:
    """(group, stages) in the order they run: the base evaluation, then one group per cell."""
    base_run = base_run_id(study)
    return [("base", [base_stage(study)])] + [(c.name, cell_stages(study, c, base_run)) for c in study.cells]


# ----------------------------------------------------------------------------- the premise check (pre-flight)


def premise_checks(study: Study) -> list[tuple[list[str], Path, list[str]]]:
    """The premise check (`harness entropy --premise` on the base checkpoint) that the arms selecting tokens by
    entropy get before any stage: one per distinct sampling setting among them (data, template, temperature,
    top-p, lengths, prompt switches, backend; usually one for the whole study), at the study's entropy ρ (0.2
    without an entropy stage). (harness arguments, output folder, arm names); empty when no arm selects by entropy."""
    from harness.entropy.premise import by_entropy

    groups: dict[tuple, list[str]] = {}
    for arm in study.arms:
        cell = next(c for c in study.cells if c.arm is arm)
        if not by_entropy(resolved(cell, "selection"), resolved(cell, "rho")):
            continue
        t = cell.train
        kwargs = json.dumps(t.chat_template_kwargs, sort_keys=True) if t.chat_template_kwargs else ""
        key = (t.data, t.template, t.temperature, t.top_p, t.max_response_tokens, t.max_prompt_tokens)
        groups.setdefault((*key, t.system_prompt, kwargs, t.backend), []).append(arm.name)
    rho = study.entropy["rho"] if study.entropy else 0.2
    checks = []
    for i, (key, arms) in enumerate(groups.items()):
        data, template, temperature, top_p, max_tokens, max_prompt, system, kwargs, backend = key
        folder = study.out / ("premise" if len(groups) == 1 else f"premise-{i + 1}")
        args = ["entropy", "--premise", "--ckpt", str(study.base), "--data", data, "--template", template]
        args += ["--temperature", str(temperature), "--top-p", str(top_p), "--max-tokens", str(max_tokens)]
        args += ["--max-prompt-tokens", str(max_prompt), "--rho", str(rho), "--backend", backend]
        args += ["--system-prompt", system] if system else []
        args += ["--chat-template-kwargs", kwargs] if kwargs else []
        checks.append((args + ["--out", str(folder), "--no-progress"], folder, arms))
    return checks


def premise(study: Study, say=print) -> list[dict]:
    """Run the premise checks not yet done (each `harness entropy --premise` in a process here, with any executor:
    a note, not a stage; `run` calls it first) and say each verdict as a note for its arms. A check that fails is
    a note too: it never stops the study. Returns the checks' JSON with their arms."""
    from harness.entropy import premise as P

    found = []
    for args, folder, arms in premise_checks(study):
        path = folder / "premise.json"  # written last, renamed into place: there means finished
        if not path.is_file():
            log = study.out / "logs" / f"{folder.name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as f:
                f.write(f"$ harness {shlex.join(args)}\n")
                f.flush()
                rc = subprocess.call(
                    [sys.executable, "-m", "harness.cli", *args],
                    stdout=f,
                    stderr=subprocess.STDOUT,
                    preexec_fn=functools.partial(die_with_parent, os.getpid()),  # dies with us
                )
            if rc != 0 or not path.is_file():
                say(f"note: premise check failed (exit {rc}; see {log}); the study goes on without it")
                continue
        d = json.loads(path.read_text())
        say(P.note(d, arms))
        found.append({**d, "arms": arms, "folder": str(folder)})
    return found


# ----------------------------------------------------------------------------- running


def lock(study: Study):
    """Hold the study folder (harness.store.RunLock on OUT/.lock), or a UsageError naming the study that holds
    it (creates the folder)."""
    from harness import store

    try:
        study.out.mkdir(parents=True, exist_ok=True)
        held = store.RunLock(study.out)
    except OSError as exc:
        raise UsageError(f"study {study.out}: cannot write there ({exc.strerror or exc})") from None
    if held.acquire():
        return held
    pid = held.holder()
    held.release()
    raise UsageError(f"study {study.out}: another harness study (pid {pid}) is running there; wait for it to end")


def marker(path: Path) -> dict | None:
    """A stage's marker (what `run_stage` wrote once its command exited 0), or None: not done."""
    return json.loads(path.read_text()) if path.is_file() else None


def run_stage(stage: Stage, say=print) -> bool:
    """Run one stage unless its marker exists; True when it is done."""
    if stage.done.is_file():
        return True
    stage.log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with stage.log.open("a") as log:
        log.write(f"$ {stage.command}\n")
        log.flush()
        rc = subprocess.call(
            [sys.executable, "-m", "harness.cli", *stage.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=functools.partial(die_with_parent, os.getpid()),  # dies with us
        )
    seconds = time.time() - t0
    if rc != 0:
        say(f"{stage.name}: failed (exit {rc}); see {stage.log}")
        return False
    stage.done.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(stage.done, {"command": stage.command, "seconds": seconds, **_run_id(stage)})
    say(f"{stage.name}: done in {seconds:.0f} s")
    return True


def prune(cell_dir: Path, say=print) -> None:
    """Delete a finished cell's checkpoints; the marker `done/pruned.json` says so to later reruns."""
    ckpts = cell_dir / "train" / "checkpoints"
    freed = sum(f.stat().st_size for f in ckpts.rglob("*") if f.is_file()) if ckpts.is_dir() else 0
    (cell_dir / "done").mkdir(parents=True, exist_ok=True)
    atomic_write_json(cell_dir / "done" / "pruned.json", {"deleted": str(ckpts), "bytes": freed})  # first: a cut-short
    if ckpts.is_dir():  # deletion leaves no checkpoint that a later stage could take for a whole one
        shutil.rmtree(ckpts)
    say(f"checkpoints deleted ({freed / 2**30:.1f} GiB; keep_checkpoints: false)")


def _run_id(stage: Stage) -> dict:
    """The eval run id, from the command's own `run <id>: <folder>` line."""
    if stage.args[0] != "eval":
        return {}
    for line in reversed(stage.log.read_text().splitlines()):
        if line.startswith("run ") and ": " in line:
            return {"run_id": line.split()[1].rstrip(":")}
    return {}


def run(study: Study, jobs: int = 1, say=print, runner=None, premise_check: bool = True) -> list[str]:
    """Run every stage not yet done, cells `jobs` at a time; returns the names of the cells that failed.

    `runner(stage, say) -> bool` runs one stage (default `run_stage`: a process here; harness.study.ray's
    submits it as a Ray job); either way the stage's marker is what says it is done. First, with `premise_check`,
    the premise check of the arms that select tokens by entropy (`premise`: in a process here, whatever runs
    the stages)."""
    runner = runner or run_stage
    groups = commands(study)
    if premise_check:  # a note for the arms that select tokens by entropy, before any stage; never stops the study
        premise(study, say=lambda m: say(f"[premise] {m}"))
    (_, (base,)), cells = groups[0], groups[1:]
    if not runner(base, lambda m: say(f"[base] {m}")):
        return ["base"]

    def one(group):
        name, stages = group
        pruned = (study.out / "cells" / name / "done" / "pruned.json").is_file()
        todo = [s for s in stages if not s.done.is_file()]
        if pruned and todo:
            say(
                f"[{name}] {todo[0].name}: needs the checkpoints, which were deleted (keep_checkpoints: false); "
                f"remove {study.out / 'cells' / name} to train the cell again"
            )
            return name
        ok = all(runner(s, lambda m: say(f"[{name}] {m}")) for s in stages)  # all() stops at a failure
        if ok and not study.keep_checkpoints and not pruned:
            prune(study.out / "cells" / name, say=lambda m: say(f"[{name}] {m}"))
        return None if ok else name

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return [n for n in pool.map(one, cells) if n]
