"""A study file, read and checked (`load`), and its grid: arms x seeds as cells (`Cell`), each with its resolved
`harness train` config. The YAML keys:

    out, base, train_config, train        the study folder, the base checkpoint, the common `harness train` settings
    arms                                  a list of {name, plus harness train keys}: rho, invert, selection, preset, ...
    seeds, reference                      the seeds every arm trains with; the arm the others are compared with
    eval                                  the held-out evaluation: tasks, n, budgets, temperature, top_p, template,
                                          backend, seed, limit, every, system_prompt, chat_template_kwargs
    entropy, keep_checkpoints, resources  the entropy stage, whether checkpoints stay, what each Ray job asks for

Prompt switches (`system_prompt`, `chat_template_kwargs`: tasks.prompts.PromptSwitches) are `harness train` keys
on an arm (or under `train:`), checked by the trainer's own checks, and `harness eval` flags under `eval:`, checked
as `harness eval` checks them; a mapping or a JSON object for `chat_template_kwargs`. A cell's checkpoints are
evaluated with the switches it trains with (`eval_switches`: the resolved training config's, where it sets one),
else with `eval:`'s; the base checkpoint with `eval:`'s.

Everything wrong with the file is a UsageError (one line) before anything runs. Checking the training keys and
data borrows `train.config` and `train.data`, imported inside the functions that need them (docs/DESIGN.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from harness import eval_defaults
from harness.backends import LOCAL_BACKENDS
from harness.errors import UsageError
from tasks import checkpoints

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
EVAL_KEYS = (
    "tasks",
    "n",
    "budgets",
    "temperature",
    "top_p",
    "template",
    "backend",
    "seed",
    "limit",
    "every",
    "system_prompt",
    "chat_template_kwargs",
)
SWITCHES = ("system_prompt", "chat_template_kwargs")  # prompt switches: harness train keys and harness eval flags
ENTROPY_KEYS = ("rho", "limit")
RESOURCE_STAGES = ("train", "eval", "entropy")  # `resources:` per stage kind: what a Ray job asks for
RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory")  # Ray's entrypoint_num_cpus / _num_gpus / _memory (bytes)
MANAGED = ("model", "out", "seed")  # set by the study for every cell, never by an arm
# the paper's two budgets, 20480 and 29696 tokens: 29696 / 20480 = 1.45 (= 29 / 20, exactly)
PAPER_BUDGET_RATIO = eval_defaults.BUDGETS[1] / eval_defaults.BUDGETS[0]


@dataclass
class EvalSpec:
    tasks: list[str]
    n: int
    budgets: list[int]
    temperature: float = eval_defaults.TEMPERATURE
    top_p: float = eval_defaults.TOP_P
    template: str = eval_defaults.TEMPLATE
    backend: str = "vllm"
    seed: int = 0
    limit: int | None = None
    every: int = 0  # also evaluate every `every` training steps (0: the final checkpoint only)
    system_prompt: str | None = None  # harness eval --system-prompt (None: not passed)
    chat_template_kwargs: dict = field(default_factory=dict)  # harness eval --chat-template-kwargs ({}: not passed)


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
    bad = checkpoints.error(base, weights=(), whole=False)
    if bad:
        raise UsageError(f"base: {bad}")
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
        **{k: raw[k] for k in EVAL_KEYS if k in raw and k not in ("tasks", "n", "budgets", *SWITCHES)},
    )
    spec.system_prompt, spec.chat_template_kwargs = _eval_switches(raw)
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
    if spec.backend not in LOCAL_BACKENDS:
        raise UsageError(f"eval: backend: one of {', '.join(LOCAL_BACKENDS)}, got {spec.backend!r}")
    context = _context(study.base)
    if context is not None and max(spec.budgets) >= context:
        raise UsageError(
            f"eval: budgets: {max(spec.budgets)} is not below the context of {study.base} ({context} tokens)"
        )
    tasks.get_template(spec.template)
    _held_out(spec, study)
    return spec


def _eval_switches(raw: dict) -> tuple[str | None, dict]:
    """`eval:`'s prompt switches, checked as `harness eval` checks its --system-prompt and --chat-template-kwargs
    (tasks.prompts.PromptSwitches): text, and a JSON object (here also a YAML mapping) with string keys."""
    from tasks.errors import TaskError
    from tasks.prompts import PromptSwitches

    system, kwargs = raw.get("system_prompt"), raw.get("chat_template_kwargs")
    try:
        if isinstance(kwargs, str):
            switches = PromptSwitches.parse(system, kwargs)
        else:
            switches = PromptSwitches(system, {} if kwargs is None else kwargs)
        json.dumps(switches.chat_template_kwargs)  # it goes to harness eval as JSON
    except (TaskError, TypeError, ValueError) as exc:
        raise UsageError(f"eval: {str(exc).splitlines()[0]}") from None
    return switches.system_prompt, dict(switches.chat_template_kwargs)


def eval_switches(study: Study, cell: Cell | None = None) -> tuple[str | None, dict]:
    """(system prompt, chat template kwargs) `harness eval` gets for the cell's checkpoints (None: the base's): each
    the one the cell trains with where its training config sets it (a non-empty value), else `eval:`'s."""
    system, kwargs = study.eval.system_prompt, study.eval.chat_template_kwargs
    if cell is not None:
        system = cell.train.system_prompt or system
        kwargs = cell.train.chat_template_kwargs or kwargs
    return system, dict(kwargs)


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


def task_name(spec: str) -> str:
    """The task's name in leaderboard rows: a task spec without its options (synthetic:size=8 -> synthetic)."""
    return spec.split(":", 1)[0]


def rel(study: Study, p: Path) -> str:
    """Cell paths relative to the study folder, so two copies of a study give the same table."""
    try:
        return str(p.relative_to(study.out))
    except ValueError:
        return str(p)
