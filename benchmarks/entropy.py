"""Peak extra memory and time: naive vs chunked vs fused log-prob + entropy, on CPU.

One training step's log-prob/entropy work at N tokens, hidden size H, vocabulary V (default the
issue's N=2048, H=512, V=151,936, fp32), with the top-ρ (0.2) entropy mask:

- naive:   logits = hidden @ W.T, then log_softmax / gather / entropy on the full [N, V] (autograd);
- chunked: logits = hidden @ W.T (autograd), then train.entropy.logprobs_and_entropy;
- fused:   train.entropy.fused_logprobs_and_entropy with an all-token loss (every row gets gradient);
- fused ρ: the same with the masked loss: the entropy mask (computed from the returned entropy)
           zeroes the gradient of 80 % of the rows and backward skips them.

naive/chunked use the masked loss too (their backward cannot skip rows, so it costs them nothing).
"fwd" is the forward of a training step (autograd on, tensors saved for backward) plus the mask and
the loss; "fwd+bwd" adds backward into preallocated .grad buffers.

How memory is measured: every (variant, mode) runs in a fresh subprocess with
MALLOC_MMAP_THRESHOLD_=65536, so glibc serves every large tensor by mmap and unmaps it on free (no
allocator cache hides or inflates anything; torch's CPU allocator does not cache). The process
allocates inputs and .grad buffers, runs one warm-up step, resets the kernel's peak-RSS counter
(`echo 5 > /proc/self/clear_refs`, Linux >= 4.0), reads VmRSS as the baseline, runs the measured
steps and reads VmHWM. Extra peak = VmHWM - baseline: everything the step allocates beyond its
inputs and gradient buffers, including the gradient it returns before autograd adds it into .grad.
How time is measured: the machine these numbers come from is shared, so wall time swings by 2x
from run to run. The primary number is the process's CPU time (user + sys over all its threads,
with OMP_WAIT_POLICY=PASSIVE so idle OpenMP threads sleep instead of spinning): the work done,
which contention barely changes. Wall time (best of the repeats) is shown beside it.

    python benchmarks/entropy.py [--threads 2] [--repeats 3]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # entropy_step.py, shared with entropy_gpu.py

VARIANTS = {
    "naive": "naive (materialised [N, V])",
    "chunked": "chunked (from logits)",
    "fused-all": "fused, all rows get gradient",
    "fused-masked": "fused, ρ-masked backward",
}
MODES = ("fwd", "fwd+bwd")


def _proc_status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def worker(args) -> dict:
    import torch
    from entropy_step import inputs
    from entropy_step import step as one_step

    torch.set_num_threads(args.threads)
    tensors = inputs(args.n, args.hidden, args.vocab)

    def step(backward: bool):
        one_step(args.variant, *tensors, args.rho, backward)

    backward = args.mode == "fwd+bwd"
    step(backward)  # warm-up: thread pools, lazy inits
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _proc_status("VmRSS")
    cpu, wall = [], []
    for _ in range(args.repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        step(backward)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return {"cpu_s": min(cpu), "time_s": min(wall), "extra_bytes": _proc_status("VmHWM") - base}


def run_one(args, variant: str, mode: str) -> dict:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--variant",
        variant,
        "--mode",
        mode,
        "--n",
        str(args.n),
        "--hidden",
        str(args.hidden),
        "--vocab",
        str(args.vocab),
        "--rho",
        str(args.rho),
        "--threads",
        str(args.threads),
        "--repeats",
        str(args.repeats),
    ]
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS=str(args.threads), OMP_WAIT_POLICY="PASSIVE")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(args, results: dict) -> str:
    mib = 1 << 20
    naive = results["naive", "fwd+bwd"]
    lines = [
        f"N={args.n}, H={args.hidden}, V={args.vocab:,}, fp32, ρ={args.rho}, {args.threads} CPU threads, "
        f"best of {args.repeats}. CPU = process CPU seconds (all threads), wall = wall seconds, "
        "extra = peak RSS above inputs and .grad buffers.",
        "",
        "| variant | fwd CPU s | fwd wall s | fwd extra MiB | fwd+bwd CPU s | fwd+bwd wall s "
        "| fwd+bwd extra MiB | fwd+bwd CPU / naive | fwd+bwd extra / naive |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v, label in VARIANTS.items():
        f, fb = results[v, "fwd"], results[v, "fwd+bwd"]
        lines.append(
            f"| {label} | {f['cpu_s']:.2f} | {f['time_s']:.2f} | {f['extra_bytes'] / mib:,.0f} "
            f"| {fb['cpu_s']:.2f} | {fb['time_s']:.2f} | {fb['extra_bytes'] / mib:,.0f} "
            f"| {fb['cpu_s'] / naive['cpu_s']:.2f}x | {fb['extra_bytes'] / naive['extra_bytes']:.1%} |"
        )
    wgrad = args.vocab * args.hidden * 4 / mib
    lines += [
        "",
        f"Floor: the weight gradient alone is {wgrad:,.0f} MiB "
        f"({wgrad / (naive['extra_bytes'] / mib):.1%} of naive's fwd+bwd extra peak).",
    ]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--vocab", type=int, default=151_936)
    p.add_argument("--rho", type=float, default=0.2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    results = {}
    for v in VARIANTS:
        for m in MODES:
            results[v, m] = run_one(args, v, m)
            r = results[v, m]
            print(
                f"  {v:13s} {m:8s} cpu {r['cpu_s']:6.2f} s  wall {r['time_s']:6.2f} s "
                f"{r['extra_bytes'] / (1 << 20):8,.0f} MiB",
                file=sys.stderr,
                flush=True,
            )
    print(table(args, results))


if __name__ == "__main__":
    main()
