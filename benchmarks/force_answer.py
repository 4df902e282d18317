"""The forcing pass's cost (`harness eval --force-answer`) against the main generation, on the same engine.

Runs `harness eval --force-answer` once, as a user would, into a fresh folder, and reads the phase times the run
manifest records (`phase_seconds`: engine load, main generation, forcing pass; the forcing pass reuses the loaded
engine). Prints the two wall times, their ratio, the share of rows cut and how many rows were forced. The baseline
is the main generation pass itself; the target (issue 24) is a forcing pass of at most 10 % of it, at budgets
where about half the samples are cut.

    python benchmarks/force_answer.py --ckpt ~/.cache/rlvr-harness/smollm2-135m-instruct --backend vllm \\
        --tasks synthetic --limit 32 --n 4 --max-tokens 96,160
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import store, tables


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--backend", default="vllm")
    ap.add_argument("--tasks", default="synthetic")
    ap.add_argument("--limit", type=int, default=32)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", default="96,160")
    ap.add_argument("--force-tokens", type=int, default=32)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="force-bench-"))
    cmd = [sys.executable, "-m", "harness.cli", "eval", "--ckpt", args.ckpt, "--backend", args.backend]
    cmd += ["--tasks", args.tasks, "--limit", str(args.limit), "--n", str(args.n), "--max-tokens", args.max_tokens]
    cmd += ["--force-answer", "--force-tokens", str(args.force_tokens), "--out", str(out), "--no-progress"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    (run_dir,) = (out / "runs").iterdir()
    phases = store.read_manifest(run_dir)["phase_seconds"]
    rows = store.read_samples(run_dir, columns=["truncated"]).to_pylist()
    cut = sum(r["truncated"] for r in rows) / len(rows)
    gen, force = phases["generate_s"], phases["force_s"]
    print(f"{args.backend}, {args.ckpt}, {args.tasks} x {args.limit} problems x n = {args.n}, budgets ", end="")
    print(f"{args.max_tokens}, {os.cpu_count()} CPUs; engine load {phases['engine_load_s']:.1f} s (not counted)\n")
    body = [
        ["main generation (baseline)", f"{gen:.1f}", "1.00", f"{100 * cut:.0f} % of rows cut"],
        ["forcing pass", f"{force:.1f}", f"{force / gen:.2f}", f"{len(store.read_forced(run_dir))} rows forced"],
    ]
    print(tables.render(["pass", "wall s", "x main", "note"], body, "markdown"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
