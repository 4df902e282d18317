"""The log-prob + entropy training step that benchmarks/entropy.py (CPU) and entropy_gpu.py (GPU) time.

Kinds: "naive" (materialised [N, V] logits), "chunked" (logits, then train.entropy's chunked path),
"fused-all" (fused with the lm_head, every row gets gradient) and "fused-masked" (fused, top-ρ entropy
mask: backward skips the unselected rows). naive/chunked use the masked loss too: their backward cannot
skip rows, so the mask costs them nothing.
"""

import torch

from train.entropy import fused_logprobs_and_entropy, logprobs_and_entropy, naive_logprobs_and_entropy
from train.mask import top_entropy_mask

KINDS = ("naive", "chunked", "fused-all", "fused-masked")


def inputs(n: int, hidden_size: int, vocab: int, *, device="cpu", dtype=torch.float32):
    """Seeded hidden states, lm_head weight (logits of std ~2: a realistic spread), labels, advantages,
    a validity mask, and preallocated .grad buffers (so backward adds into them, as in training)."""
    torch.manual_seed(0)
    hidden = (torch.randn(n, hidden_size, device=device) / hidden_size**0.5).to(dtype).requires_grad_()
    weight = (torch.randn(vocab, hidden_size, device=device) * 2.0).to(dtype).requires_grad_()
    labels = torch.randint(0, vocab, (n,), device=device)
    adv = torch.randn(n, device=device)
    valid = torch.ones(n, dtype=torch.bool, device=device)
    hidden.grad, weight.grad = torch.zeros_like(hidden), torch.zeros_like(weight)
    return hidden, weight, labels, adv, valid


def step(kind: str, hidden, weight, labels, adv, valid, rho: float, backward: bool) -> torch.Tensor:
    """One forward (and backward) of `kind`; returns the detached log-probs."""
    if kind == "naive":
        lp, ent = naive_logprobs_and_entropy(hidden @ weight.T, labels)
    elif kind == "chunked":
        lp, ent = logprobs_and_entropy(hidden @ weight.T, labels)
    else:
        lp, ent = fused_logprobs_and_entropy(hidden, weight, labels)
    if kind == "fused-all":
        loss = (lp * adv).sum()
    else:
        mask, _ = top_entropy_mask(ent.detach(), valid, rho)
        loss = (lp * adv * mask).sum()
    if backward:
        loss.backward()
    return lp.detach()
