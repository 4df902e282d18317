"""Checkpoints in plain Hugging Face format plus the state needed to resume exactly.

`OUT/checkpoints/step_000012/` holds `save_pretrained` weights, config and tokenizer (so `harness eval
--ckpt` reads it directly) and `trainer_state.pt` (optimizer, scheduler, RNG states, data position,
step). It is written under a `.tmp` name and renamed when complete, so a kill mid-save never leaves a
checkpoint that looks finished; the latest complete one is what a resume loads.
"""
from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch

STATE = "trainer_state.pt"
_NAME = re.compile(r"^step_(\d{6,})$")


def ckpt_dir(out: str | Path) -> Path:
    return Path(out) / "checkpoints"


def latest(out: str | Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    root = ckpt_dir(out)
    if not root.is_dir():
        return None
    done = [(int(m.group(1)), p) for p in root.iterdir()
            if (m := _NAME.match(p.name)) and (p / STATE).is_file()]
    return max(done)[1] if done else None


def rng_state() -> dict:
    s = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s: dict) -> None:
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def save(out, step: int, model, tokenizer, state: dict, keep_last: int) -> Path:
    root = ckpt_dir(out)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:06d}"
    tmp = root / f"step_{step:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    torch.save({**state, "step": step, "rng": rng_state()}, tmp / STATE)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    done = sorted(p for p in root.iterdir() if _NAME.match(p.name))
    for old in done[:-keep_last]:
        shutil.rmtree(old)
    return final


def load_state(path: Path) -> dict:
    return torch.load(path / STATE, map_location="cpu", weights_only=False)
