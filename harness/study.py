"""`harness study`, the library half: the paper's ablation (arms x seeds) as ordinary `harness` commands.

A study is a YAML file (see `load`): a base checkpoint, common `harness train` settings, a list of arms
(each a named set of `harness train` overrides: rho, invert, selection, preset, ...), seeds, and a held-out
evaluation spec. It becomes a list of plain commands (`commands`), so the same study can be run here
(`run`), printed for a cluster scheduler (`--dry-run`), or rebuilt into its outputs (`outputs`):

    OUT/results/                        `harness eval --out`: runs/<run id>/ and leaderboard.parquet
    OUT/done/base-eval.json             the base checkpoint's evaluation (once for the whole study)
    OUT/premise/                        `harness entropy --premise` of the base, before any stage, when an arm selects
                                        tokens by entropy (premise.md, premise.json; `premise`): a note, not a stage
    OUT/cells/<arm>-s<seed>/train/      `harness train --out`: checkpoints/, log.jsonl, config.yaml
    OUT/cells/<arm>-s<seed>/entropy/    `harness entropy --compare BASE FINAL` over the base run's responses
    OUT/cells/<arm>-s<seed>/done/*.json one marker per finished stage (train, eval-step_N, entropy)
    OUT/cells/<arm>-s<seed>/logs/*.log  each stage's stdout and stderr
    OUT/cells/<arm>-s<seed>/jobs/*.json `--executor ray` only: the Ray job of a stage in flight (harness.study_ray)
    OUT/study.parquet, report.md, *.png the outputs (`outputs`)

One study at a time per folder: `harness study` (and `--report`) holds an exclusive flock on OUT/.lock
(`lock`) while it runs stages or writes outputs, so a second one cannot delete a checkpoint the first one's
entropy stage is reading; kill -9 releases it.

Resuming: a stage whose marker exists is skipped; a marker is written (atomically) only after its command
exited 0, and every command resumes on its own (`harness train` from its latest checkpoint, `harness eval`
from its stored samples; the leaderboard replaces a run's rows rather than adding them twice). So a study
killed at any point (kill -9 included: children die with it) and started again ends with the same files.

Executors: `run` takes the function that runs one stage; `run_stage` runs it as a process here, harness.study_ray
submits it as a Ray job whose process calls `run_stage` on a node (same command, log and marker).
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UsageError

KEYS = (
    "out",
    "base",
    "train_config",
    "train",
    "arms",
    "seeds",
    "reference",
    "eval",
    "entropy",
    "keep_checkpoints",
    "resources",
)
EVAL_KEYS = ("tasks", "n", "budgets", "temperature", "top_p", "template", "backend", "seed", "limit", "every")
ENTROPY_KEYS = ("rho", "limit")
RESOURCE_STAGES = ("train", "eval", "entropy")  # `resources:` per stage kind: what a Ray job asks for
RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory")  # Ray's entrypoint_num_cpus / _num_gpus / _memory (bytes)
MANAGED = ("model", "out", "seed")  # set by the study for every cell, never by an arm
PAPER_BUDGET_RATIO = 29 / 20  # the paper's two budgets: 20k and 29k tokens


@dataclass
class EvalSpec:
    tasks: list[str]
    n: int
    budgets: list[int]
    temperature: float = 0.6
    top_p: float = 0.95
    template: str = "boxed"
    backend: str = "vllm"
    seed: int = 0
    limit: int | None = None
    every: int = 0  # also evaluate every `every` training steps (0: the final checkpoint only)


@dataclass
class Arm:
    name: str
    overrides: dict  # harness train keys -> values, as written in the study file


@dataclass
class Cell:
    arm: Arm
    seed: int
    dir: Path
    train: object  # the resolved train.config.TrainConfig

    @property
    def name(self) -> str:
        return self.dir.name

    def checkpoint(self, step: int) -> Path:
        return self.dir / "train" / "checkpoints" / f"step_{step:06d}"


@dataclass
class Study:
    path: Path
    out: Path
    base: Path
    train_config: str | None
    train: dict
    arms: list[Arm]
    seeds: list[int]
    reference: str
    eval: EvalSpec
    entropy: dict | None  # {"rho": .., "limit": ..}; None: no entropy stage
    cells: list[Cell] = field(default_factory=list)
    # False: a cell's checkpoints are deleted once all its stages are done (about 1.6 GB each for a 135M model
    # with its optimizer state); the markers, logs, eval runs and entropy stay, so a rerun still skips the cell
    keep_checkpoints: bool = True
    # stage kind -> {num_cpus, num_gpus, memory}: what each stage's Ray job reserves (`--executor ray` only;
    # the local executor runs stages as processes here and has nothing to reserve)
    resources: dict = field(default_factory=dict)

    @property
    def results(self) -> Path:
        return self.out / "results"

    def eval_steps(self, cell: Cell) -> list[int]:
        steps, every = cell.train.steps, self.eval.every
        return sorted({*range(every, steps + 1, every), steps} if every else {steps})


# ----------------------------------------------------------------------------- the study file


def load(path: str | os.PathLike) -> Study:
    """Read and check a study file: every problem is a UsageError (one line), before anything runs."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--config {path}: no such file")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"--config {path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"--config {path}: expected a mapping of keys to values")
    _no_unknown(raw, KEYS, "")
    for key in ("base", "arms"):
        if key not in raw:
            raise UsageError(f"{key}: required")
    base = Path(str(raw["base"]))
    if not (base / "config.json").is_file():
        raise UsageError(f"base: {base}: no checkpoint there (no config.json)")
    train = _mapping(raw.get("train") or {}, "train")
    _no_managed(train, "train")
    arms = _arms(raw["arms"])
    seeds = raw.get("seeds", [0])
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise UsageError(f"seeds: a non-empty list of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"seeds: each seed once, got {seeds}")
    train_config = str(raw["train_config"]) if raw.get("train_config") else None
    out = Path(str(raw.get("out") or p.with_suffix("")))
    study = Study(p, out, base, train_config, train, arms, seeds, "", None, None)  # type: ignore[arg-type]
    study.cells = [_cell(study, arm, seed) for seed in seeds for arm in arms]  # seed-major: a cut-short study
    # still has every arm at its first seeds
    study.reference = _reference(raw.get("reference"), study)
    study.eval = _eval_spec(raw.get("eval") or {}, study)
    study.entropy = _entropy_spec(raw.get("entropy", {}))
    study.keep_checkpoints = raw.get("keep_checkpoints", True)
    if not isinstance(study.keep_checkpoints, bool):
        raise UsageError(f"keep_checkpoints: true or false, got {study.keep_checkpoints!r}")
    study.resources = _resources_spec(raw.get("resources") or {})
    return study


def _no_unknown(d: dict, known, where: str) -> None:
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise UsageError(f"{where}unknown key(s): {', '.join(map(str, unknown))} (known: {', '.join(known)})")


def _mapping(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise UsageError(f"{where}: expected a mapping, got {value!r}")
    return value


def _no_managed(d: dict, where: str) -> None:
    taken = [k for k in MANAGED if k in d]
    if taken:
        raise UsageError(f"{where}: {', '.join(taken)} is set by the study for every cell (base, out, seeds)")


def _arms(value) -> list[Arm]:
    if not isinstance(value, list) or not value:
        raise UsageError("arms: a non-empty list of mappings (name plus harness train keys)")
    arms = []
    for i, a in enumerate(value):
        a = dict(_mapping(a, f"arms[{i}]"))
        name = a.pop("name", None)
        if not isinstance(name, str) or not name:
            raise UsageError(f"arms[{i}]: needs a name")
        if not all(c.isalnum() or c in "-_." for c in name):
            raise UsageError(
                f"arms[{i}]: name {name!r}: use letters, digits, '-', '_' and '.' only (it names a folder)"
            )
        if name in (x.name for x in arms):
            raise UsageError(f"arms[{i}]: name {name!r} is used twice")
        _no_managed(a, f"arm {name}")
        arms.append(Arm(name, a))
    return arms


def _cell(study: Study, arm: Arm, seed: int) -> Cell:
    """The cell's resolved train config: defaults <- train_config <- train <- the arm <- (base, out, seed)."""
    from train.config import ConfigError, load_config

    d = study.out / "cells" / f"{arm.name}-s{seed}"
    values = {**study.train, **arm.overrides, "model": str(study.base), "out": str(d / "train"), "seed": seed}
    try:
        cfg = load_config(study.train_config, values).check()
    except ConfigError as exc:
        raise UsageError(f"arm {arm.name}: {exc}") from None
    return Cell(arm, seed, d, cfg)


def resolved(cell: Cell, key: str):
    """The value a cell trains with: the preset's where the config leaves a key to it (None)."""
    value = getattr(cell.train, key)
    return getattr(cell.train.preset_obj(), key, value) if value is None or key in ("rho", "selection") else value


def _reference(name, study: Study) -> str:
    names = [a.name for a in study.arms]
    if name is not None:
        if name not in names:
            raise UsageError(f"reference: {name!r} is not an arm (arms: {', '.join(names)})")
        return name
    for c in study.cells:  # default: all tokens, the paper's baseline
        if resolved(c, "rho") == 1.0 and not resolved(c, "invert") and resolved(c, "selection") in ("", "entropy"):
            return c.arm.name
    raise UsageError("reference: no arm trains on all tokens (rho 1.0); name the reference arm")


def _eval_spec(raw, study: Study) -> EvalSpec:
    import tasks

    raw = _mapping(raw, "eval")
    _no_unknown(raw, EVAL_KEYS, "eval: ")
    if "tasks" not in raw:
        raise UsageError("eval: tasks: required (held-out problems, e.g. synthetic:difficulty=2,size=64,seed=1)")
    names = raw["tasks"] if isinstance(raw["tasks"], list) else [raw["tasks"]]
    responses = study.cells[0].train.max_response_tokens
    budgets = raw.get("budgets", [responses, round(responses * PAPER_BUDGET_RATIO)])
    spec = EvalSpec(
        tasks=[str(t) for t in names],
        n=raw.get("n", 4),
        budgets=budgets,
        **{k: raw[k] for k in EVAL_KEYS if k in raw and k not in ("tasks", "n", "budgets")},
    )
    if not (
        isinstance(spec.budgets, list) and spec.budgets and all(isinstance(b, int) and b >= 1 for b in spec.budgets)
    ):
        raise UsageError(f"eval: budgets: a list of positive integers, got {spec.budgets!r}")
    spec.budgets = sorted(set(spec.budgets))
    for k, ok in (
        ("n", spec.n >= 1),
        ("every", spec.every >= 0),
        ("limit", spec.limit is None or spec.limit >= 1),
        ("temperature", spec.temperature >= 0),
        ("top_p", 0 < spec.top_p <= 1),
    ):
        if not ok:
            raise UsageError(f"eval: {k}: bad value {getattr(spec, k)!r}")
    if spec.backend not in ("vllm", "hf"):
        raise UsageError(f"eval: backend: vllm or hf, got {spec.backend!r}")
    context = _context(study.base)
    if context is not None and max(spec.budgets) >= context:
        raise UsageError(
            f"eval: budgets: {max(spec.budgets)} is not below the context of {study.base} ({context} tokens)"
        )
    tasks.get_template(spec.template)
    _held_out(spec, study)
    return spec


def _held_out(spec: EvalSpec, study: Study) -> None:
    """No evaluation problem may be a training prompt (compared as the training template renders it)."""
    import tasks
    from train.config import ConfigError
    from train.data import load_items

    held_out = {q.question for t in spec.tasks for q in tasks.load(t).problems[: spec.limit]}
    for data, template in sorted({(c.train.data, c.train.template) for c in study.cells}):
        if data.startswith("hub:"):
            continue  # not read before the run; a hub dataset is the user's to keep apart
        try:
            prompts = {it.messages[-1]["content"] for it in load_items(data, template)}
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        seen = [q for q in held_out if tasks.get_template(template).render(q) in prompts]
        if seen:
            raise UsageError(f"eval: tasks: {len(seen)} held-out problem(s) are also in the training data {data}")


def _entropy_spec(raw) -> dict | None:
    if raw is False:
        return None
    raw = _mapping(raw or {}, "entropy")
    _no_unknown(raw, ENTROPY_KEYS, "entropy: ")
    spec = {"rho": raw.get("rho", 0.2), "limit": raw.get("limit")}
    if not 0 < spec["rho"] <= 1:
        raise UsageError(f"entropy: rho: must be in (0, 1], got {spec['rho']}")
    return spec


def _resources_spec(raw) -> dict:
    """`resources: {train: {num_gpus: 8}, eval: {num_gpus: 1}}`: per stage kind, non-negative amounts."""
    raw = _mapping(raw, "resources")
    _no_unknown(raw, RESOURCE_STAGES, "resources: ")
    out = {}
    for kind, req in raw.items():
        req = _mapping(req or {}, f"resources: {kind}")
        _no_unknown(req, RESOURCE_KEYS, f"resources: {kind}: ")
        for key, value in req.items():
            whole = key == "memory"  # bytes; CPUs and GPUs may be fractions, as Ray allows
            if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) or value < 0:
                kind_of = "a non-negative integer (bytes)" if whole else "a non-negative number"
                raise UsageError(f"resources: {kind}: {key}: {kind_of}, got {value!r}")
        out[kind] = dict(req)
    return out


def _context(ckpt: Path) -> int | None:
    config = json.loads((ckpt / "config.json").read_text())
    config = config.get("text_config", config)
    return next((config[k] for k in ("max_position_embeddings", "n_positions") if isinstance(config.get(k), int)), None)


# ----------------------------------------------------------------------------- the commands


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
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return f"--{key.replace('_', '-')}={value}"


def eval_args(study: Study, ckpt: Path) -> list[str]:
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
    return args + (["--limit", str(e.limit)] if e.limit else [])


def base_stage(study: Study) -> Stage:
    return Stage(
        "base-eval",
        eval_args(study, study.base),
        study.out / "done" / "base-eval.json",
        study.out / "logs" / "base-eval.log",
    )


def base_run_id(study: Study) -> str:
    """The run id `harness eval` gives the base evaluation (content-addressed: known before it runs)."""
    import argparse

    from harness import evaluate
    from harness.commands.eval import check
    from harness.commands.eval import register as _register

    parser = argparse.ArgumentParser()
    _register(parser.add_subparsers())
    return evaluate.plan(check(parser.parse_args(base_stage(study).args))).run_id


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
    stages += [stage(f"eval-step_{s:06d}", eval_args(study, cell.checkpoint(s))) for s in study.eval_steps(cell)]
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
                    preexec_fn=_die_with_parent,
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


def _die_with_parent() -> None:
    """In the child: SIGKILL when the study process dies (kill -9 included), so no orphan keeps writing."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


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
            preexec_fn=_die_with_parent,
        )
    seconds = time.time() - t0
    if rc != 0:
        say(f"{stage.name}: failed (exit {rc}); see {stage.log}")
        return False
    _write_json(stage.done, {"command": stage.command, "seconds": seconds, **_run_id(stage)})
    say(f"{stage.name}: done in {seconds:.0f} s")
    return True


def prune(cell_dir: Path, say=print) -> None:
    """Delete a finished cell's checkpoints; the marker `done/pruned.json` says so to later reruns."""
    ckpts = cell_dir / "train" / "checkpoints"
    freed = sum(f.stat().st_size for f in ckpts.rglob("*") if f.is_file()) if ckpts.is_dir() else 0
    _write_json(cell_dir / "done" / "pruned.json", {"deleted": str(ckpts), "bytes": freed})  # first: a cut-short
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

    `runner(stage, say) -> bool` runs one stage (default `run_stage`: a process here; harness.study_ray's
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


# ----------------------------------------------------------------------------- outputs


def _marker(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _leaderboard(study: Study) -> dict[str, dict]:
    """(run id, task, budget) -> leaderboard row."""
    from harness import leaderboard

    path = study.results / "leaderboard.parquet"
    rows = leaderboard.read(path).to_pylist() if path.is_file() else []
    return {(r["run_id"], r["task"], r["budget"]): r for r in rows}


def _rel(study: Study, p: Path) -> str:
    """Cell paths relative to the study folder, so two copies of a study give the same table."""
    try:
        return str(p.relative_to(study.out))
    except ValueError:
        return str(p)


def evaluated(study: Study) -> list[dict]:
    """One record per finished evaluation: arm, seed, step, checkpoint, run id (base first, arm None)."""
    out = []
    base = _marker(base_stage(study).done)
    if base:
        out.append(
            {
                "arm": "base",
                "seed": None,
                "step": 0,
                "checkpoint": str(study.base),
                "run_id": base["run_id"],
                "cell": None,
            }
        )
    for c in study.cells:
        for s in study.eval_steps(c):
            m = _marker(c.dir / "done" / f"eval-step_{s:06d}.json")
            if m:
                out.append(
                    {
                        "arm": c.arm.name,
                        "seed": c.seed,
                        "step": s,
                        "checkpoint": _rel(study, c.checkpoint(s)),
                        "run_id": m["run_id"],
                        "cell": c,
                    }
                )
    return out


def override_keys(study: Study) -> list[str]:
    return list(dict.fromkeys(k for a in study.arms for k in a.overrides))


def table_rows(study: Study) -> list[dict]:
    """The rows of study.parquet (see `write_parquet`), every evaluated checkpoint, sorted."""
    board, keys, rows = _leaderboard(study), override_keys(study), []
    for e in evaluated(study):
        for task in study.eval.tasks:
            name = _task_name(task)
            for b in study.eval.budgets:
                r = board.get((e["run_id"], name, b))
                if r is None:
                    continue
                row = {
                    "arm": e["arm"],
                    "seed": e["seed"],
                    "step": e["step"],
                    "checkpoint": e["checkpoint"],
                    "run_id": e["run_id"],
                    "task": task,
                    "budget": b,
                    "n": r["n"],
                    "problems": r["problems"],
                    "avg": r["avg"],
                    "se": r["se"],
                    "problem_ids": r["problem_ids"],
                    "problem_n": r["problem_n"],
                    "problem_correct": r["problem_correct"],
                }
                for k in keys:
                    row[k] = resolved(e["cell"], k) if e["cell"] else None
                rows.append(row)
    order = {a.name: i for i, a in enumerate(study.arms)}
    return sorted(rows, key=lambda r: (order.get(r["arm"], -1), r["seed"] or 0, r["step"], r["task"], r["budget"]))


def _task_name(spec: str) -> str:
    return spec.split(":", 1)[0]


def write_parquet(study: Study, rows: list[dict], path: Path) -> Path:
    """study.parquet: one row per evaluated checkpoint x task x budget.

    arm (str; "base" for the base checkpoint), seed (int; null for base), step (int; 0 for base),
    checkpoint (str; cell paths relative to the study folder), run_id (str), task (str, the study's spec),
    budget (int), n (int, samples per problem), problems (int), avg (float, avg@n), se (float),
    problem_ids / problem_n / problem_correct (lists, per problem, as on the leaderboard), then one column
    per key any arm overrides, holding that cell's resolved value (null for base).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    fixed = [
        ("arm", pa.string()),
        ("seed", pa.int64()),
        ("step", pa.int64()),
        ("checkpoint", pa.string()),
        ("run_id", pa.string()),
        ("task", pa.string()),
        ("budget", pa.int64()),
        ("n", pa.int64()),
        ("problems", pa.int64()),
        ("avg", pa.float64()),
        ("se", pa.float64()),
        ("problem_ids", pa.list_(pa.string())),
        ("problem_n", pa.list_(pa.int64())),
        ("problem_correct", pa.list_(pa.int64())),
    ]
    types = {bool: pa.bool_(), int: pa.int64(), float: pa.float64()}
    extra = [
        (k, types.get(type(next((r[k] for r in rows if r[k] is not None), "")), pa.string()))
        for k in override_keys(study)
    ]
    schema = pa.schema(fixed + extra)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    os.replace(tmp, path)
    return path


T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    30: 2.042,
}  # Student t, 97.5 % quantile by degrees of freedom


def mean_ci(values: list[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its 95 % t interval over seeds (None for one value)."""
    k = len(values)
    mean = sum(values) / k
    if k < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    t = T975[max(d for d in T975 if d <= k - 1)] if k - 1 <= 30 else 1.96
    return mean, t * sd / math.sqrt(k)


def final_rows(study: Study, rows: list[dict]) -> dict[tuple, dict]:
    """(arm, seed, task, budget) -> the row of the cell's final checkpoint."""
    steps = {c.name: c.train.steps for c in study.cells}
    return {
        (r["arm"], r["seed"], r["task"], r["budget"]): r
        for r in rows
        if r["arm"] != "base" and r["step"] == steps[f"{r['arm']}-s{r['seed']}"]
    }


def _per_problem(row: dict) -> dict[str, float]:
    return {p: c / n for p, n, c in zip(row["problem_ids"], row["problem_n"], row["problem_correct"])}


@dataclass
class Delta:
    arm: str
    task: str
    budget: int
    seeds: list[int]
    diff: float
    lo: float
    hi: float
    problems: int
    verdict: str


def pooled_delta(
    study: Study, final: dict, arm: str, task: str, budget: int, *, ref: str | None = None, iters=10000, seed=0
) -> Delta | None:
    """arm minus `ref` (default: the reference arm) over the seeds both finished, pooled: per problem the mean
    over seeds of (arm - ref), then `harness compare`'s paired bootstrap with problems as the clusters."""
    from harness import metrics

    ref = ref or study.reference
    seeds = [s for s in study.seeds if (arm, s, task, budget) in final and (ref, s, task, budget) in final]
    if not seeds:
        return None
    a = [_per_problem(final[(arm, s, task, budget)]) for s in seeds]
    b = [_per_problem(final[(ref, s, task, budget)]) for s in seeds]
    problems = sorted(set.intersection(*[set(x) for x in a + b]))
    if not problems:
        return None
    pa = [sum(x[p] for x in a) / len(seeds) for p in problems]
    pb = [sum(x[p] for x in b) / len(seeds) for p in problems]
    diff, lo, hi = metrics.paired_bootstrap(pa, pb, iters=iters, seed=seed)
    return Delta(arm, task, budget, seeds, diff, lo, hi, len(problems), metrics.verdict(lo, hi, names=(arm, ref)))


def arm_like(study: Study, rho: float, invert: bool = False) -> str | None:
    """The first arm that selects by entropy with this rho (and invert), else None: how the report finds the
    paper's arms (top-20 %, bottom-80 %, ...) whatever the study names them."""
    for c in study.cells:
        if (resolved(c, "rho"), bool(resolved(c, "invert")), resolved(c, "selection") in ("", "entropy")) == (
            rho,
            invert,
            True,
        ):
            return c.arm.name
    return None


def seed_delta(
    study: Study, final: dict, arm: str, s: int, task: str, budget: int, *, ref: str | None = None, iters=10000, seed=0
):
    """One seed's arm minus `ref` (default: the reference arm), exactly as `harness compare ARM_RUN REF_RUN`."""
    from harness import comparison

    ref = ref or study.reference
    a, b = final.get((arm, s, task, budget)), final.get((ref, s, task, budget))
    if a is None or b is None:
        return None
    return comparison.paired(a, b, (arm, ref), iters=iters, seed=seed)


def entropy_stats(study: Study, cell: Cell) -> dict | None:
    """Base vs trained over the base run's responses: top-rho overlap, share of H < 0.01, 80th percentile."""
    import numpy as np
    import pyarrow.parquet as pq

    from harness.entropy.stats import compare

    path = cell.dir / "entropy" / "compare_tokens.parquet"
    if not study.entropy or not (cell.dir / "done" / "entropy.json").is_file():
        return None
    t = pq.read_table(path, columns=["entropy_a", "entropy_b"])
    h_a, h_b = t["entropy_a"].to_numpy().astype(np.float64), t["entropy_b"].to_numpy().astype(np.float64)
    c = compare(h_a, h_b, study.entropy["rho"])
    return {
        "overlap": c.overlap_share,
        "tokens": c.tokens,
        "low_base": float((h_a < 0.01).mean()),
        "low_trained": float((h_b < 0.01).mean()),
        "p80_base": float(np.percentile(h_a, 80)),
        "p80_trained": float(np.percentile(h_b, 80)),
    }


def train_log(cell: Cell) -> list[dict]:
    """The cell's training log; an incomplete last line (an append cut short: no newline) is not a row yet."""
    path = cell.dir / "train" / "log.jsonl"
    lines = path.read_text().split("\n")[:-1] if path.is_file() else []
    return [json.loads(x) for x in lines if x.strip()]


def timing(study: Study) -> dict:
    """Seconds per arm (summed over its seeds) by where they went: rollout, update, train (whole process,
    model loading included), eval, entropy; plus the base evaluation."""
    out = {}
    for c in study.cells:
        t = out.setdefault(c.arm.name, {"rollout": 0.0, "update": 0.0, "train": 0.0, "eval": 0.0, "entropy": 0.0})
        log = train_log(c)
        t["rollout"] += sum(r.get("rollout_s", 0.0) for r in log)
        t["update"] += sum(r.get("update_s", 0.0) for r in log)
        for m in (c.dir / "done").glob("*.json") if (c.dir / "done").is_dir() else []:
            kind = m.stem.split("-")[0]
            if kind in t:  # stage markers only (pruned.json records a deletion, not a stage)
                t[kind] += _marker(m)["seconds"]
    base = _marker(base_stage(study).done)
    out["(base eval)"] = {"eval": base["seconds"] if base else 0.0}
    return out


def plots_missing() -> str | None:
    """Why the PNGs cannot be drawn here (matplotlib absent or broken), or None. Imported, not just found:
    a study checks this before hours of work, not after."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def outputs(study: Study, plots: bool = True) -> list[Path]:
    """study.parquet, report.md and (with `plots`) the PNGs in the study folder, from whatever has finished."""
    from harness import study_report

    rows = table_rows(study)
    study.out.mkdir(parents=True, exist_ok=True)
    written = [write_parquet(study, rows, study.out / "study.parquet")]
    report = study_report.markdown(study, rows)
    tmp = study.out / "report.md.tmp"
    tmp.write_text(report)
    os.replace(tmp, study.out / "report.md")
    written.append(study.out / "report.md")
    if plots:
        written += study_report.plots(study, rows)
    return written
