"""`harness train --config FILE.yaml [--key value ...]`: entropy-masked GRPO/DAPO (train/trainer.py).

Every key of train.config.TrainConfig is also a flag (`--rho 0.5`, `--max-response-tokens 512`);
flags override the file, the file overrides the paper's defaults. The config is checked before any
model is loaded or anything is written; a bad one is one line and exit code 2.

A fresh run whose arm selects tokens by entropy first gets the paper's premise checked on its base checkpoint
(`preflight`: harness.entropy.premise, a few dozen responses at the run's temperature and response length) and
prints the verdict as a note; it never refuses to train. `--no-premise` skips it (harness study runs it once for
all its arms and passes --no-premise to each cell).
"""

from __future__ import annotations

import argparse

from harness.errors import UsageError


def register(sub) -> None:
    from train.config import field_help  # light: dataclasses and the config's own source only

    p = sub.add_parser(
        "train",
        help="entropy-masked GRPO/DAPO training (configs in train/configs/)",
        description="Every TrainConfig key is a flag and a YAML key; defaults and meanings below "
        "come from train/config.py.",
    )
    p.add_argument("--config", help="YAML file of TrainConfig keys (see train/configs/)")
    p.add_argument(
        "--allow-config-change",
        action="store_true",
        help="resume although settings changed since the checkpoint (the change is logged with its step)",
    )
    p.add_argument(
        "--no-premise",
        action="store_true",
        help="skip the pre-flight premise check that a fresh run selecting tokens by entropy gets: the base "
        "checkpoint sampled on the training prompts, its token entropy beside the paper's (harness entropy --premise)",
    )
    for name, (default, meaning) in field_help().items():
        shown = "the preset's" if default is None else repr(default) if default == "" else default
        p.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=None,
            metavar="V",
            help=f"{meaning} [default: {shown}]".replace("%", "%%"),
        )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from train.config import FIELDS, ConfigError, load_config

    try:
        cfg = load_config(args.config, {k: getattr(args, k) for k in FIELDS}).check()
        from harness.procs import mark_owner
        from train.trainer import Trainer

        mark_owner()  # any process vLLM starts (its engine core runs in this one) dies with this one
        if not args.no_premise:
            preflight(cfg)
        trainer = Trainer(cfg, allow_config_change=args.allow_config_change)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        return trainer.train()
    except ConfigError as exc:  # a write refused mid-run (full disk): one line; nothing half-written stays
        raise UsageError(str(exc)) from None
    finally:
        trainer.close()


def preflight(cfg, say=print) -> dict | None:
    """The premise check (harness.entropy.premise) as a note before a fresh run whose arm selects tokens by entropy.

    It never stops the run: whatever the verdict, training follows; a check that fails for another reason than
    the run's own data (which the trainer would refuse the same way: ConfigError) is a note saying so. A resumed
    run does not repeat it. Returns the check (JSON-able) or None."""
    from harness.entropy import premise
    from train import checkpoint
    from train.data import load_items

    preset = cfg.preset_obj()
    if not premise.by_entropy(preset.selection, preset.rho):
        return None
    if cfg.resume and checkpoint.latest(cfg.out):
        say("note: premise check not repeated on resume (it ran before the first step)")
        return None
    items = load_items(cfg.data, cfg.template)  # ConfigError: the trainer's own one line
    try:
        result = premise.check(
            cfg.model,
            [it.messages for it in items],
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            max_tokens=cfg.max_response_tokens,
            max_prompt_tokens=cfg.max_prompt_tokens,
            switches=cfg.prompt_switches(),
            rho=preset.rho,
            seed=cfg.seed,
            backend=cfg.backend,
            dtype=None if cfg.dtype == "auto" else cfg.dtype,
        )
    except Exception as exc:  # noqa: BLE001 (a pre-flight note never stops a run; this one says why it is missing)
        why = (str(exc).strip().splitlines() or [""])[0]
        say(f"note: premise check could not run ({type(exc).__name__}: {why}); training goes on without it")
        return None
    say(premise.note(result))
    return result.to_json()
