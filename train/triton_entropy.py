"""Triton kernels for train.entropy on CUDA: one pass over a chunk of logits, in its own dtype.

The torch path makes an fp32 copy of each chunk and walks it ~7 times; on a GPU that elementwise
traffic costs more than the lm_head matmul itself. These kernels read the (bf16) logits once per
row with an online softmax (running max m, sum s = Σ e^x and t = Σ e^x x, x = (z - m) / T), and
the backward writes the gradient straight back in the logits' dtype, in place if asked.

Same outputs as `train.entropy._chunk_forward` / `_chunk_grad` (the reference and the CPU path);
the tests run both under TRITON_INTERPRET=1. Imported lazily by train.entropy, only when needed.
"""

import torch
import triton
import triton.language as tl

BLOCK_V = 2048


@triton.jit
def _forward_kernel(X, stride_x, LABELS, LP, ENT, M, LOG_S, V, inv_t, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = X + row * stride_x
    cols = tl.arange(0, BLOCK)
    m = tl.max(tl.full([BLOCK], -3.0e38, tl.float32), axis=0)  # finite: (m - m_new) stays finite
    s = tl.sum(tl.zeros([BLOCK], tl.float32), axis=0)
    t = tl.sum(tl.zeros([BLOCK], tl.float32), axis=0)
    for start in range(0, V, BLOCK):
        offs = start + cols
        z = tl.load(x_row + offs, mask=offs < V, other=float("-inf")).to(tl.float32)
        m_new = tl.maximum(m, tl.max(z, axis=0))
        d = tl.maximum((m - m_new) * inv_t, -1000.0)  # old terms' shift; exp(-1000) = 0
        scale = tl.exp(d)
        x = (z - m_new) * inv_t
        e = tl.exp(x)
        ex = tl.where(e > 0, e * x, 0.0)  # -inf logits: 0, not 0 * inf
        t = (t + s * d) * scale + tl.sum(ex, axis=0)  # Σ e' x' after the shift
        s = s * scale + tl.sum(e, axis=0)
        m = m_new
    log_s = tl.log(s)
    label = tl.load(LABELS + row)
    z_label = tl.load(x_row + label).to(tl.float32)
    tl.store(LP + row, (z_label - m) * inv_t - log_s)
    tl.store(ENT + row, log_s - t / s)
    tl.store(M + row, m)
    tl.store(LOG_S + row, log_s)


@triton.jit
def _grad_kernel(
    X,
    stride_x,
    G,
    stride_g,
    LABELS,
    M,
    LOG_S,
    GRAD_LP,
    GRAD_H,
    ENT,
    V,
    inv_t,
    HAS_GRAD_H: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    m = tl.load(M + row)
    log_s = tl.load(LOG_S + row)
    label = tl.load(LABELS + row)
    g_lp = tl.load(GRAD_LP + row)
    if HAS_GRAD_H:
        g_h = tl.load(GRAD_H + row)
        h = tl.load(ENT + row)
    for start in range(0, V, BLOCK):
        offs = start + cols
        z = tl.load(X + row * stride_x + offs, mask=offs < V, other=float("-inf")).to(tl.float32)
        logp = (z - m) * inv_t - log_s
        p = tl.exp(logp)
        g = tl.where(offs == label, g_lp, 0.0) - g_lp * p  # d logprob / dx = onehot - p
        if HAS_GRAD_H:
            g = g - g_h * tl.where(p > 0, p * (logp + h), 0.0)  # dH/dx = -p (log p + H)
        g = g * inv_t
        tl.store(G + row * stride_g + offs, g.to(G.dtype.element_ty), mask=offs < V)


def forward(x: torch.Tensor, labels: torch.Tensor, temperature: float):
    """(logprob, entropy, row max, log-sum-exp after the shift), fp32 [n], from raw logits x [n, V]."""
    n, V = x.shape
    assert x.stride(1) == 1, "rows must be contiguous"
    lp, ent, m, log_s = (torch.empty(n, dtype=torch.float32, device=x.device) for _ in range(4))
    if n:
        _forward_kernel[(n,)](
            x, x.stride(0), labels, lp, ent, m, log_s, V, 1.0 / temperature, BLOCK=BLOCK_V, num_warps=8
        )
    return lp, ent, m, log_s


def grad(x, out, labels, m, log_s, temperature, grad_lp, grad_h=None, entropy=None):
    """Writes d(grad_lp·logprob + grad_h·entropy)/dx into out [n, V] (may be x itself)."""
    n, V = x.shape
    assert x.stride(1) == 1 and out.stride(1) == 1, "rows must be contiguous"
    if n:
        has_h = grad_h is not None
        _grad_kernel[(n,)](
            x,
            x.stride(0),
            out,
            out.stride(0),
            labels,
            m,
            log_s,
            grad_lp,
            grad_h if has_h else grad_lp,
            entropy if has_h else grad_lp,
            V,
            1.0 / temperature,
            HAS_GRAD_H=has_h,
            BLOCK=BLOCK_V,
            num_warps=8,
        )
    return out
