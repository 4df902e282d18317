"""Checkpoints in plain Hugging Face format plus the state needed to resume exactly.

`OUT/checkpoints/step_000012/` holds `save_pretrained` weights, config and tokenizer (so `harness eval
--ckpt` reads it directly) and `trainer_state.pt` (optimizer, scheduler, RNG states, data position,
step). It is written under a `.tmp` name and renamed when complete, so a kill mid-save never leaves a
checkpoint that looks finished; the latest complete one is what a resume loads. A save that fails (full disk,
quota, I/O error, Ctrl-C) removes its `.tmp` folder before the error goes on (`WriteError` for the operating
system's refusals); a kill -9 leaves one, which the next trainer on OUT removes (`remove_partial`).
"""

from __future__ import annotations

import fcntl
import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch

from tasks import checkpoints

STATE = "trainer_state.pt"
_NAME = re.compile(r"^step_(\d{6,})$")
_PARTIAL = re.compile(r"^step_(\d{6,})\.tmp$")
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")  # how safetensors (Rust) reports an OS error


class WriteError(OSError):
    """The operating system refused a write (full disk, quota, read-only, I/O error); `reason` says which."""


def os_reason(exc: BaseException) -> str | None:
    """The OS error behind `exc` ("No space left on device"), or None when it is not one.

    Writers wrap it differently: open/write raise OSError, safetensors a SafetensorError naming "(os error 28)",
    torch.save a RuntimeError whose __context__ is the OSError. The chain is followed, nothing is guessed."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno:
            return exc.strerror or os.strerror(exc.errno)
        m = _RUST_OS_ERROR.search(str(exc))
        if m:
            return os.strerror(int(m.group(1)))
        exc = exc.__cause__ or exc.__context__
    return None


def ckpt_dir(out: str | Path) -> Path:
    return Path(out) / "checkpoints"


def latest(out: str | Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    root = ckpt_dir(out)
    if not root.is_dir():
        return None
    done = [(int(m.group(1)), p) for p in root.iterdir() if (m := _NAME.match(p.name)) and (p / STATE).is_file()]
    return max(done)[1] if done else None


def damage(path: Path) -> tuple[dict | None, str | None]:
    """(state, None) for an intact checkpoint, (None, why) for a damaged one.

    Loads `trainer_state.pt` (once: the caller resumes from the returned state), after `tasks.checkpoints`' check
    (config.json, weights as save_pretrained writes them, every safetensors header whole and its tensors inside
    the file: a truncated file fails here, before any model is built)."""
    reason = checkpoints.problem(path, weights=(".safetensors", ".bin"))
    if reason:
        return None, reason
    try:
        return load_state(path), None
    except Exception as exc:  # noqa: BLE001 (torch.load raises many types on a damaged file)
        why = type(exc).__name__ + (f": {str(exc).splitlines()[0]}" if str(exc) else "")
        return None, f"{STATE} is damaged ({why})"  # the phrase of tasks.checkpoints.problem


def resumable(out: str | Path) -> tuple[Path | None, dict | None, list[tuple[Path, str]]]:
    """(newest intact checkpoint, its loaded state, the newer damaged ones with their reasons, newest first)."""
    root = ckpt_dir(out)
    if not root.is_dir():
        return None, None, []
    done = sorted(
        ((int(m.group(1)), p) for p in root.iterdir() if (m := _NAME.match(p.name)) and (p / STATE).exists()),
        reverse=True,
    )
    damaged = []
    for _, p in done:
        state, reason = damage(p)
        if reason is None:
            return p, state, damaged
        damaged.append((p, reason))
    return None, None, damaged


def set_aside(path: Path) -> Path:
    """Rename a damaged checkpoint out of the way (never deleted): step_N -> step_N.damaged[-k]."""
    target, k = path.with_name(path.name + ".damaged"), 1
    while target.exists():
        target, k = path.with_name(f"{path.name}.damaged-{k}"), k + 1
    os.replace(path, target)
    return target


class RunLock:
    """An exclusive flock on `out/.lock` for as long as a trainer writes there; kill -9 releases it."""

    def __init__(self, out: Path):
        self.path, self.fd = Path(out) / ".lock", None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise
        self.fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    __del__ = release


def holder(out: Path) -> str:
    """The pid written by the lock's holder ('?' when unreadable)."""
    try:
        return (Path(out) / ".lock").read_text().strip() or "?"
    except OSError:
        return "?"


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


def remove_partial(out: str | Path) -> list[Path]:
    """Delete the `step_N.tmp` folders a killed save left (call it holding the run lock); returns them."""
    root = ckpt_dir(out)
    found = sorted(p for p in root.iterdir() if _PARTIAL.match(p.name)) if root.is_dir() else []
    for p in found:
        shutil.rmtree(p)
    return found


def save(out, step: int, model, tokenizer, state: dict, keep_last: int) -> Path:
    """Write `step_N.tmp/`, rename it to `step_N/`, delete all but the newest `keep_last`.

    Any failure while writing removes `step_N.tmp/` first; one the OS refused is raised as WriteError."""
    root = ckpt_dir(out)
    final = root / f"step_{step:06d}"
    tmp = root / f"step_{step:06d}.tmp"
    try:
        root.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        with open(tmp / STATE, "wb") as fh:  # our file object: a refused write surfaces as its OSError
            torch.save({**state, "step": step, "rng": rng_state()}, fh)
    except BaseException as exc:
        if tmp.exists():
            shutil.rmtree(tmp)
        reason = os_reason(exc)
        if reason is None or not isinstance(exc, Exception):
            raise
        raise WriteError(f"cannot write checkpoint {final.name} ({reason})") from exc
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    done = sorted(p for p in root.iterdir() if _NAME.match(p.name))
    for old in done[:-keep_last]:
        shutil.rmtree(old)
    return final


def load_state(path: Path) -> dict:
    return torch.load(path / STATE, map_location="cpu", weights_only=False)
