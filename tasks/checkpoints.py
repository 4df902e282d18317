"""Is a folder a checkpoint we can load? The one check of `harness eval`, `harness train`'s model and the trainer's
resume, with one message shape: `checkpoint PATH: <problem>`. Stdlib only: the CLI checks a checkpoint before
importing torch.

A safetensors file is checked whole cheaply: its header parses and every tensor lies inside the file (the header
only is read), so a truncated or overwritten weight file is one clear line, not a loader traceback.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

# What counts as a weight file in a checkpoint folder (harness.store.fingerprint hashes these too).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


def problem(path: str | os.PathLike, *, weights: tuple[str, ...] = WEIGHT_SUFFIXES, whole: bool = True) -> str | None:
    """Why `path` is not a checkpoint to load, or None. The first of, in this order:

    - "not a folder";
    - "no readable config.json (<why>)";
    - "no weight files (*.safetensors, *.bin, ...)": no file ending in one of `weights` (() asks for none: a
      served model's local copy of its config and tokenizer);
    - "<name> is damaged (<why>)": a safetensors file that is not whole (`whole`; `safetensors_damage`).
    """
    folder = Path(path)
    if not folder.is_dir():
        return "not a folder"
    try:
        (folder / "config.json").read_bytes()
    except OSError as exc:
        return f"no readable config.json ({exc.strerror or exc})"
    if weights and not any(p.name.endswith(weights) for p in folder.iterdir()):
        return f"no weight files ({', '.join('*' + s for s in weights)})"
    if whole:
        for file in sorted(folder.glob("*.safetensors")):
            reason = safetensors_damage(file)
            if reason:
                return f"{file.name} is damaged ({reason})"
    return None


def error(path: str | os.PathLike, **checks) -> str | None:
    """`problem(path, **checks)` as the one line to print: "checkpoint PATH: <problem>", or None."""
    found = problem(path, **checks)
    return None if found is None else f"checkpoint {path}: {found}"


def safetensors_damage(path: str | os.PathLike) -> str | None:
    """Why a safetensors file is unreadable (None when its header parses and every tensor lies inside it)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return f"truncated ({size} bytes)"
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                return f"truncated (header of {n} bytes, file of {size})"
            header = json.loads(f.read(n))
    except OSError as exc:
        return exc.strerror or str(exc)
    except (ValueError, UnicodeDecodeError):
        return "header is not valid JSON"
    if not isinstance(header, dict):
        return "header is not a JSON object"
    try:
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        return "header has no valid tensor offsets"
    if 8 + n + end > size:
        return f"truncated (tensors need {8 + n + end} bytes, file has {size})"
    return None
