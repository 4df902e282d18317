"""train.entropy against a float64 materialised-softmax reference: values and gradients."""

import importlib.util
import os
import subprocess
import sys

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from train.entropy import fused_logprobs_and_entropy, logprobs_and_entropy, naive_logprobs_and_entropy

V = 1009  # prime: never a multiple of anything
CHUNK = 3 * V + 5  # 3 rows per chunk, so N = 14 leaves a ragged last chunk


def reference(logits, labels, temperature):
    """float64, materialised; entropy differentiable too."""
    logp = torch.log_softmax(logits.double() / temperature, dim=-1)
    return logp.gather(-1, labels[..., None]).squeeze(-1), -(logp.exp() * logp).sum(-1)


def make(shape=(2, 7), h=24, dtype=torch.float32, seed=0, scale=3.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    hidden = (torch.randn(*shape, h, generator=g) * scale / h**0.5).to(dtype)
    weight = torch.randn(V, h, generator=g).to(dtype)
    labels = torch.randint(0, V, shape, generator=g)
    logits = ((hidden.double() @ weight.double().T) + shift).to(dtype)
    return hidden, weight, labels, logits


@pytest.mark.parametrize("temperature", [1.0, 0.6, 1.7])
@pytest.mark.parametrize("shift", [0.0, -1000.0])  # -1000: every logit negative and large
def test_logits_path_matches_reference_values_and_grads(temperature, shift):
    _, _, labels, logits = make(shift=shift)
    ref_in = logits.double().requires_grad_()
    lp_ref, h_ref = reference(ref_in, labels, temperature)
    a, b = torch.randn(labels.shape, dtype=torch.float64), torch.randn(labels.shape, dtype=torch.float64)
    ((lp_ref * a).sum() + (h_ref * b).sum()).backward()

    x = logits.clone().requires_grad_()
    lp, ent = logprobs_and_entropy(x, labels, temperature=temperature, chunk_elements=CHUNK)
    assert lp.dtype == ent.dtype == torch.float32 and lp.shape == labels.shape
    torch.testing.assert_close(lp.double(), lp_ref.detach(), atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(ent.double(), h_ref.detach(), atol=2e-5, rtol=1e-5)
    ((lp * a.float()).sum() + (ent * b.float()).sum()).backward()
    torch.testing.assert_close(x.grad.double(), ref_in.grad, atol=2e-6, rtol=1e-4)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_fused_matches_reference_values_and_grads(temperature):
    hidden, weight, labels, _ = make(shape=(2, 7))
    h64, w64 = hidden.double().requires_grad_(), weight.double().requires_grad_()
    lp_ref, h_ref = reference(h64 @ w64.T, labels, temperature)
    a = torch.randn(labels.shape, dtype=torch.float64)
    (lp_ref * a).sum().backward()

    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    lp, ent = fused_logprobs_and_entropy(h, w, labels, temperature=temperature, chunk_elements=CHUNK)
    torch.testing.assert_close(lp.double(), lp_ref.detach(), atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(ent.double(), h_ref.detach(), atol=2e-5, rtol=1e-5)
    (lp * a.float()).sum().backward()
    torch.testing.assert_close(h.grad.double(), h64.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(w.grad.double(), w64.grad, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_fused_entropy_gradient_matches_reference(temperature):
    """The entropy bonus: gradients through the fused entropy (and both outputs together)."""
    hidden, weight, labels, _ = make(shape=(2, 7), seed=1)
    a, b = torch.randn(labels.shape, dtype=torch.float64), torch.randn(labels.shape, dtype=torch.float64)
    for with_lp in (False, True):
        h64, w64 = hidden.double().requires_grad_(), weight.double().requires_grad_()
        lp_ref, h_ref = reference(h64 @ w64.T, labels, temperature)
        ((h_ref * b).sum() + ((lp_ref * a).sum() if with_lp else 0)).backward()
        h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
        lp, ent = fused_logprobs_and_entropy(h, w, labels, temperature=temperature, chunk_elements=CHUNK)
        ((ent * b.float()).sum() + ((lp * a.float()).sum() if with_lp else 0)).backward()
        torch.testing.assert_close(h.grad.double(), h64.grad, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(w.grad.double(), w64.grad, atol=1e-5, rtol=1e-4)


def test_bf16_inputs_accumulate_in_fp32():
    # The reference sees exactly the bf16 values, upcast: any error left is our accumulation.
    _, _, labels, logits = make(dtype=torch.bfloat16, shift=-50.0)
    lp_ref, h_ref = reference(logits, labels, 0.8)
    x = logits.clone().requires_grad_()
    lp, ent = logprobs_and_entropy(x, labels, temperature=0.8, chunk_elements=CHUNK)
    torch.testing.assert_close(lp.double(), lp_ref, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(ent.double(), h_ref, atol=2e-5, rtol=1e-5)
    lp.sum().backward()
    assert x.grad.dtype == torch.bfloat16
    ref_in = logits.double().requires_grad_()
    reference(ref_in, labels, 0.8)[0].sum().backward()
    torch.testing.assert_close(x.grad.double(), ref_in.grad, atol=1e-2, rtol=1e-2)


def test_fused_bf16():
    hidden, weight, labels, _ = make(dtype=torch.bfloat16)
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    lp, ent = fused_logprobs_and_entropy(h, w, labels, chunk_elements=CHUNK)
    lp.sum().backward()
    assert h.grad.dtype == w.grad.dtype == torch.bfloat16
    # bf16 logits (the lm_head's own rounding) are the reference input here.
    lp_ref, h_ref = reference(hidden @ weight.T, labels, 1.0)
    torch.testing.assert_close(lp.double(), lp_ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ent.double(), h_ref, atol=1e-4, rtol=1e-4)
    h64, w64 = hidden.double().requires_grad_(), weight.double().requires_grad_()
    reference(h64 @ w64.T, labels, 1.0)[0].sum().backward()
    torch.testing.assert_close(h.grad.double(), h64.grad, atol=0.05, rtol=0.05)
    torch.testing.assert_close(w.grad.double(), w64.grad, atol=0.05, rtol=0.05)


def test_masked_backward_skips_rows_and_stays_exact():
    hidden, weight, labels, _ = make(shape=(3, 9), seed=3)
    mask = torch.rand(labels.shape, generator=torch.Generator().manual_seed(1)) < 0.25
    a = torch.randn(labels.shape) * mask

    grads = []
    for m in (None, mask):
        h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
        lp, _ = fused_logprobs_and_entropy(h, w, labels, mask=m, chunk_elements=CHUNK)
        (lp * a).sum().backward()
        grads.append((h.grad, w.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=0, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=0, atol=1e-6)
    assert (grads[1][0][~mask] == 0).all()

    # A gradient outside the declared mask (an all-token KL, say) must not be silently dropped.
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    lp, _ = fused_logprobs_and_entropy(h, w, labels, mask=mask, chunk_elements=CHUNK)
    with pytest.raises(RuntimeError, match="outside `mask`"):
        lp.sum().backward()


def test_masked_loss_cuts_backward_matmul_work_to_rho():
    """The usual flow (mask=None; the loss zeroes unselected rows): backward FLOPs scale with ρ."""
    from torch.utils.flop_counter import FlopCounterMode

    from train.mask import top_entropy_mask

    hidden, weight, labels, _ = make(shape=(5, 10), seed=4)
    flops = {}
    for name in ("all", "masked"):
        h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
        lp, ent = fused_logprobs_and_entropy(h, w, labels, chunk_elements=CHUNK)
        mask, stats = top_entropy_mask(ent, torch.ones_like(labels), 0.2)
        loss = (lp * mask).sum() if name == "masked" else lp.sum()
        with FlopCounterMode(display=False) as counter:
            loss.backward()
        flops[name] = counter.get_total_flops()
    assert stats["num_selected"] == 10
    assert flops["masked"] == flops["all"] * 10 // 50  # exactly ρ of the lm_head backward


def test_ignore_index_labels():
    hidden, weight, labels, logits = make()
    labels = labels.clone()
    labels[0, :3] = -100
    for lp, _ in (logprobs_and_entropy(logits, labels), fused_logprobs_and_entropy(hidden, weight, labels)):
        assert (lp[0, :3] == 0).all() and (lp[0, 3:] < 0).all()


def test_minus_inf_logits_are_zero_probability():
    _, _, labels, logits = make()
    logits = logits.clone()
    logits[..., 500:] = float("-inf")  # e.g. padded vocabulary rows
    labels = labels % 500
    lp, ent = logprobs_and_entropy(logits.requires_grad_(), labels)
    lp_ref, h_ref = reference(logits[..., :500].detach(), labels, 1.0)
    torch.testing.assert_close(lp.double(), lp_ref, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(ent.double(), h_ref, atol=2e-5, rtol=1e-5)
    (lp.sum() + ent.sum()).backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad[..., 500:] == 0).all()


class LargestFloat(TorchDispatchMode):
    """Records the largest float32/float64 tensor any op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and t.dtype in (torch.float32, torch.float64):
                self.largest = max(self.largest, t.numel())
        return out


def test_no_fp32_copy_of_the_whole_logits():
    hidden, weight, labels, logits = make(shape=(4, 10), h=8, dtype=torch.bfloat16)
    n = labels.numel()
    x = logits.clone().requires_grad_()
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    with LargestFloat() as seen:
        lp, _ = logprobs_and_entropy(x, labels, chunk_elements=CHUNK)
        lp.sum().backward()  # its [N, V] gradient is bf16, like its input
        lp, _ = fused_logprobs_and_entropy(h, w, labels, chunk_elements=CHUNK)
        lp.sum().backward()
    assert seen.largest <= max(CHUNK, V * 8) < n * V / 4  # a chunk of rows, or the weight grad
    with LargestFloat() as seen:  # the detector does see the naive path's copies
        naive_logprobs_and_entropy(logits, labels)
    assert seen.largest >= n * V


def test_benchmark_scripts_run_small(tmp_path, monkeypatch):
    """The GPU script's --small mode and the CPU benchmark's worker, in-process at tiny sizes."""
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"

    def load(name):
        spec = importlib.util.spec_from_file_location(f"bench_{name}", bench / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    out = tmp_path / "gpu.md"
    monkeypatch.setattr(sys, "argv", ["entropy_gpu.py", "--small", "--device", "cpu", "--out", str(out)])
    load("entropy_gpu").main()
    text = out.read_text()
    assert text.count("\n| ") == 7 and "OOM" not in text and "fused, ρ=0.2-masked backward" in text

    cpu = load("entropy")
    args = type("A", (), dict(n=64, hidden=16, vocab=1000, rho=0.2, threads=1, repeats=1))
    results, threads = {}, torch.get_num_threads()
    try:
        for v in cpu.VARIANTS:
            for m in cpu.MODES:
                args.variant, args.mode = v, m
                results[v, m] = cpu.worker(args)
                assert results[v, m]["cpu_s"] > 0 and results[v, m]["extra_bytes"] >= 0
    finally:
        torch.set_num_threads(threads)
    results["naive", "fwd+bwd"]["extra_bytes"] = max(1, results["naive", "fwd+bwd"]["extra_bytes"])
    assert "| fused, ρ-masked backward |" in cpu.table(args, results)


# The Triton kernels, checked on CPU by Triton's interpreter. TRITON_INTERPRET must be set before
# triton is first imported (torch may import it early), so they run in a fresh pytest process.

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


def test_triton_kernels_under_the_interpreter():
    if INTERPRETED:
        pytest.skip("this is the inner run")
    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton not installed (the kernels are an optional CUDA path)")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore",
            __file__,
            "-k",
            "triton_kernels_match or triton_fused",
        ],
        env=dict(os.environ, TRITON_INTERPRET="1"),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "3 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]


@pytest.fixture
def triton_kernels(monkeypatch):
    if not INTERPRETED:
        pytest.skip("run by test_triton_kernels_under_the_interpreter")
    import train.entropy as entropy_module
    import train.triton_entropy as kernels

    monkeypatch.setattr(kernels, "BLOCK_V", 256)  # V = 1009 = 3 * 256 + 241: several blocks
    monkeypatch.setattr(entropy_module, "_triton", kernels)
    monkeypatch.setattr(entropy_module, "USE_TRITON", "always")
    return kernels


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_kernels_match_reference(triton_kernels, dtype):
    _, _, labels, logits = make(dtype=dtype, shift=-200.0)
    logits = logits.clone()
    logits[0, 0, 700:] = float("-inf")
    labels[0, 0] = 3
    ref_in = logits.double().nan_to_num(neginf=-1e4).requires_grad_()  # exp(-1e4) == 0: same softmax
    lp_ref, h_ref = reference(ref_in, labels, 0.7)
    a, b = torch.randn(labels.shape, dtype=torch.float64), torch.randn(labels.shape, dtype=torch.float64)
    ((lp_ref * a).sum() + (h_ref * b).sum()).backward()
    x = logits.clone().requires_grad_()
    lp, ent = logprobs_and_entropy(x, labels, temperature=0.7, chunk_elements=CHUNK)
    torch.testing.assert_close(lp.double(), lp_ref.detach(), atol=5e-5, rtol=1e-5)
    torch.testing.assert_close(ent.double(), h_ref.detach(), atol=5e-5, rtol=1e-5)
    ((lp * a.float()).sum() + (ent * b.float()).sum()).backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    torch.testing.assert_close(x.grad.double(), ref_in.grad, atol=tol, rtol=tol)


def test_triton_fused_masked(triton_kernels):
    hidden, weight, labels, _ = make(shape=(3, 9), seed=5)
    mask = torch.rand(labels.shape, generator=torch.Generator().manual_seed(2)) < 0.3
    a = torch.randn(labels.shape, dtype=torch.float64) * mask
    h64, w64 = hidden.double().requires_grad_(), weight.double().requires_grad_()
    lp_ref, h_ref = reference(h64 @ w64.T, labels, 1.3)
    (lp_ref * a).sum().backward()
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    lp, ent = fused_logprobs_and_entropy(h, w, labels, temperature=1.3, mask=mask, chunk_elements=CHUNK)
    torch.testing.assert_close(ent.double(), h_ref.detach(), atol=5e-5, rtol=1e-5)
    (lp * a.float()).sum().backward()
    torch.testing.assert_close(h.grad.double(), h64.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(w.grad.double(), w64.grad, atol=1e-5, rtol=1e-4)
