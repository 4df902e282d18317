"""`harness train --config FILE.yaml [--key value ...]`: entropy-masked GRPO/DAPO (train/trainer.py).

Every key of train.config.TrainConfig is also a flag (`--rho 0.5`, `--max-response-tokens 512`);
flags override the file, the file overrides the paper's defaults. The config is checked before any
model is loaded or anything is written; a bad one is one line and exit code 2.

A fresh run whose arm selects tokens by entropy first gets the paper's premise checked on its base checkpoint
(`preflight`: harness.entropy.premise; 32 responses from the run's own sampler at its temperature and response
length, before the first step) and prints the verdict as a note; it never refuses to train. `--no-premise` skips it (harness study runs it once for
all its arms and passes --no-premise to each cell).
"""

from __future__ import annotations

import argparse
import contextlib

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
        trainer = Trainer(cfg, allow_config_change=args.allow_config_change)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        if not args.no_premise:
            preflight(trainer)
        return trainer.train()
    except ConfigError as exc:  # a write refused mid-run (full disk): one line; nothing half-written stays
        raise UsageError(str(exc)) from None
    finally:
        trainer.close()


PREMISE_PROMPTS, PREMISE_PER_PROMPT = 16, 2  # a few dozen responses: 32


def preflight(trainer, say=print) -> dict | None:
    """The premise check (harness.entropy.premise) as a note before the first step of a run whose arm selects
    tokens by entropy, with the run's own sampler, prompts (as it renders them), temperature, top-p and response
    length, and its policy (the base checkpoint before step 1) for the entropy pass. Nothing of the run changes:
    the random generators are restored and the policy's train/eval mode too. It never stops the run: whatever the
    verdict, training follows; a check that fails is a note saying why. A resumed run does not repeat it."""
    from harness.entropy import premise

    cfg, preset = trainer.cfg, trainer.preset
    if not premise.by_entropy(preset.selection, preset.rho):
        return None
    if trainer.step > 0:
        say("note: premise check not repeated on resume (it ran before the first step)")
        return None
    try:
        with _kept_state(trainer.model):
            pick = premise.pick_prompts(trainer.items, PREMISE_PROMPTS, cfg.seed)
            prompts = [list(trainer.items[i][1]) for i in pick]
            r = trainer.sample(prompts, [trainer.items[i][0].answer for i in pick], PREMISE_PER_PROMPT, seed=cfg.seed)
            width = r.prompt_width
            responses = [row[width:][m].tolist() for row, m in zip(r.input_ids, r.response_mask.cpu())]
            settings = {
                "checkpoint": cfg.model,
                "temperature": cfg.temperature,
                "top_p": cfg.top_p,
                "max_tokens": cfg.max_response_tokens,
                "rho": preset.rho,
                "responses": len(responses),
                "per_prompt": PREMISE_PER_PROMPT,
                "seed": cfg.seed,
                "backend": cfg.backend,
                "device": str(next(trainer.model.parameters()).device),
            }
            result = premise.from_samples(
                trainer.model,
                trainer.tokenizer,
                [p for p in prompts for _ in range(PREMISE_PER_PROMPT)],
                responses,
                temperature=cfg.temperature,
                rho=preset.rho,
                settings=settings,
            )
    except Exception as exc:  # noqa: BLE001 (a pre-flight note never stops a run; this one says why it is missing)
        why = (str(exc).strip().splitlines() or [""])[0]
        say(f"note: premise check could not run ({type(exc).__name__}: {why}); training goes on without it")
        return None
    say(premise.note(result))
    return result.to_json()


@contextlib.contextmanager
def _kept_state(model):
    """Random generators (torch, CUDA, numpy, random) and the model's train/eval mode as they were, afterwards."""
    import random

    import numpy as np
    import torch

    states = (torch.get_rng_state(), random.getstate(), np.random.get_state())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(training)
        torch.set_rng_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
