"""GPU timing of the fused log-prob + entropy at training size, against naive torch and the matmul floor.

N=32,768 tokens, H=4,096, V=151,936 (Qwen3-8B's lm_head), bf16, top-ρ = 0.2 entropy mask. Rows:

- matmul floor: the lm_head GEMMs alone, no softmax work: forward hidden @ W.T; fwd+bwd adds
  grad_hidden = G @ W and grad_W = G.T @ hidden, over all N rows, or over ρN rows (the masked floor);
- naive: bf16 logits -> fp32 log_softmax / gather / entropy over the full [N, V] (autograd);
  it needs ~100 GB at this size and is reported as OOM where it does not fit;
- chunked: bf16 logits (autograd), then train.entropy.logprobs_and_entropy;
- fused: train.entropy.fused_logprobs_and_entropy, all rows get gradient, and with the ρ-masked loss
  (backward skips the 80 % of rows with zero gradient).

chunked and fused run twice on CUDA: with the torch per-chunk code and with the Triton kernels
(train/triton_entropy.py), when triton is installed. A variant that fails reports its error in the
table instead of stopping the script.

Time is the median over --repeats after a warm-up (CUDA-synchronised wall time); memory is the
peak allocated beyond inputs and preallocated .grad buffers. The last column is the largest
|Δ log p| against the chunked path (same bf16 logits): a correctness check at full size.
Needs torch only. Takes well under 5 minutes on one H100/H200.

    python benchmarks/entropy_gpu.py --out results/entropy_gpu.md
    python benchmarks/entropy_gpu.py --small          # tiny sizes, any device (CPU test)
"""

import argparse
import gc
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

import train.entropy as entropy_module
from train.entropy import logprobs_and_entropy

sys.path.insert(0, str(Path(__file__).resolve().parent))  # entropy_step.py, shared with entropy.py
from entropy_step import inputs  # noqa: E402
from entropy_step import step as one_step  # noqa: E402

OOM = getattr(torch, "OutOfMemoryError", getattr(torch.cuda, "OutOfMemoryError", MemoryError))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(fn, device, repeats):
    """(median seconds, peak extra bytes or None, last result) of fn(); 'OOM' if it does not fit."""
    try:
        fn()  # warm-up
        sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = fn()
            sync(device)
            times.append(time.perf_counter() - t0)
        peak = torch.cuda.max_memory_allocated() - base if device.type == "cuda" else None
        return statistics.median(times), peak, out
    except OOM:
        return "OOM", None, None
    except Exception as e:  # report, keep measuring the others
        return f"error: {type(e).__name__}: {str(e)[:80]}", None, None
    finally:
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=32_768)
    p.add_argument("--hidden", type=int, default=4096)
    p.add_argument("--vocab", type=int, default=151_936)
    p.add_argument("--rho", type=float, default=0.2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--small", action="store_true", help="tiny sizes (N=256, H=64, V=5,003) on any device")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", help="also write the Markdown table here")
    args = p.parse_args()
    if args.small:
        args.n, args.hidden, args.vocab, args.repeats = 256, 64, 5003, 2
    device = torch.device(args.device)
    N = args.n
    hidden, weight, labels, adv, valid = tensors = inputs(
        N, args.hidden, args.vocab, device=device, dtype=torch.bfloat16
    )
    n_sel = max(1, round(args.rho * N))

    def step(kind, backward):
        return lambda: one_step(kind, *tensors, args.rho, backward)

    def floor(rows, backward):
        def run():
            with torch.no_grad():
                out = hidden @ weight.T
                if backward:
                    g = out[:rows]
                    g @ weight, g.T @ hidden[:rows]
            return None

        return run

    rows = [
        ("matmul floor, all rows", None, floor(N, False), floor(N, True)),
        (f"matmul floor, ρ={args.rho} rows in backward", None, floor(N, False), floor(n_sel, True)),
        ("naive torch (materialised fp32 [N, V])", None, step("naive", False), step("naive", True)),
    ]
    impls = ["never"] + (["always"] if device.type == "cuda" and importlib.util.find_spec("triton") else [])
    for impl in impls:
        name = "Triton" if impl == "always" else "torch"
        for kind, label in [
            ("chunked", f"chunked (bf16 logits), {name}"),
            ("fused-all", f"fused, all rows get gradient, {name}"),
            ("fused-masked", f"fused, ρ={args.rho}-masked backward, {name}"),
        ]:
            rows.append((label, impl, step(kind, False), step(kind, True)))

    entropy_module.USE_TRITON = "never"  # the reference is the torch path
    with torch.no_grad():
        reference = logprobs_and_entropy(hidden @ weight.T, labels)[0]
    results = []
    for label, impl, fwd, fwdbwd in rows:
        entropy_module.USE_TRITON = impl or "never"
        tf, mf, lp = measure(fwd, device, args.repeats)
        tb, mb, _ = measure(fwdbwd, device, args.repeats)
        err = (lp - reference).abs().max().item() if lp is not None else None
        results.append((label, tf, mf, tb, mb, err))
        print(f"  {label}: fwd {tf}, fwd+bwd {tb}", flush=True)

    def t(x):
        return x if isinstance(x, str) else f"{x * 1e3:,.1f}"

    def m(x):
        return "n/a" if x is None else f"{x / 2**30:,.2f}"

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    lines = [
        f"{name}, torch {torch.__version__}; N={N:,}, H={args.hidden:,}, V={args.vocab:,}, bf16, ρ={args.rho}, "
        f"median of {args.repeats}",
        "",
        "| variant | fwd (ms) | fwd peak extra (GiB) | fwd+bwd (ms) | fwd+bwd peak extra (GiB) "
        "| max abs Δ logp vs chunked |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, tf, mf, tb, mb, err in results:
        lines.append(f"| {label} | {t(tf)} | {m(mf)} | {t(tb)} | {m(mb)} | {'' if err is None else f'{err:.2e}'} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
