"""`harness train --config FILE.yaml [--key value ...]`: entropy-masked GRPO/DAPO (train/trainer.py).

Every key of train.config.TrainConfig is also a flag (`--rho 0.5`, `--max-response-tokens 512`);
flags override the file, the file overrides the paper's defaults. The config is checked before any
model is loaded or anything is written; a bad one is one line and exit code 2.
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
        trainer = Trainer(cfg, allow_config_change=args.allow_config_change)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        return trainer.train()
    except ConfigError as exc:  # a write refused mid-run (full disk): one line; nothing half-written stays
        raise UsageError(str(exc)) from None
    finally:
        trainer.close()
