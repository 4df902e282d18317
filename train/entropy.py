"""Per-token log-probabilities and entropies of a policy, without materialising fp32 [N, V] logits.

The entropy mask of Wang et al. (arXiv 2506.01939) needs H_t = -sum_j p_tj log p_tj over the full
vocabulary (V = 151,936 for Qwen3) for every response token, at the rollout temperature T, in the
same forward pass as the loss. Done naively that is several fp32 copies of [N, V]: gigabytes per
micro-batch. Here every [N, V] quantity is computed a chunk of rows at a time:

- `logprobs_and_entropy(logits, labels)`: from logits you already have; no fp32 copy of them.
- `fused_logprobs_and_entropy(hidden, weight, labels)`: from the last hidden states and the lm_head
  weight; the logits never exist whole. Backward recomputes each chunk's logits (custom autograd),
  and skips rows that receive no gradient. With the top-20 % mask that is ~5x less lm_head backward.

Both paths support gradients through both outputs (the entropy's for an entropy bonus); the mask
itself is built from the detached entropy. Rows whose incoming gradients are both zero are skipped.
"""

import os

import torch

# fp32 elements per chunk: ~110 rows at V = 151,936 on CPU (64 MiB), ~1,770 rows on GPU (1 GiB),
# where small chunks would make the lm_head matmul re-read the weight too often.
CHUNK_ELEMENTS = {"cpu": 1 << 24, "cuda": 1 << 28}


def _rows_per_chunk(vocab: int, chunk_elements: int | None, device: torch.device) -> int:
    budget = chunk_elements or CHUNK_ELEMENTS.get(device.type, CHUNK_ELEMENTS["cpu"])
    return max(1, budget // vocab)


# -----------------------------------------------------------------------------
# The two per-chunk kernels every path shares. `z` is one chunk of raw logits in float32, and
# p = softmax(z / T). Both work in place on `z` to keep to one chunk-sized buffer.


def _chunk_forward(z: torch.Tensor, labels: torch.Tensor, temperature: float, work=None):
    """Returns (logprob of label, entropy, max, log-sum-exp after the shift) per row; destroys z.

    The max is subtracted before dividing by T: logits far from 0 (all around -1000, say) keep
    their fp32 precision, and the backward recomputes log p the same way. `work`, if given, is a
    buffer at least z's size for exp(z), reused across chunks (no fresh pages per chunk).
    """
    m = z.amax(dim=1, keepdim=True)
    z.sub_(m)  # <= 0
    if temperature != 1.0:
        z.div_(temperature)
    e = torch.exp(z) if work is None else torch.exp(z, out=work[: z.shape[0]])
    s = e.sum(dim=1)
    ez = (e[:, None, :] @ z[:, :, None]).view(-1)  # sum_j e_j z_j without an [n, V] temporary
    bad = ~torch.isfinite(ez)  # -inf logits: 0 * -inf; rare, so fixed here
    if bad.any():
        ez[bad] = torch.where(e[bad] > 0, e[bad] * z[bad], 0.0).sum(dim=1)
    log_s = torch.log(s)
    entropy = log_s - ez / s  # H = log-sum-exp - E_p[z], shift-invariant
    return z.gather(1, labels[:, None]).squeeze(1) - log_s, entropy, m.squeeze(1), log_s


def _chunk_grad(z, labels, m, log_s, temperature, grad_lp, grad_h=None, entropy=None):
    """d(grad_lp*logprob + grad_h*entropy)/dlogits, in place in z (fp32 raw logits of the chunk)."""
    logp = z.sub_(m[:, None])
    if temperature != 1.0:
        logp.div_(temperature)
    logp.sub_(log_s[:, None])
    if grad_h is not None:
        # dH/dz = -p (log p + H), built in the log p buffer; p is the one extra chunk buffer.
        logp.clamp_(min=torch.finfo(z.dtype).min)  # -inf logits: 0 * finite, not 0 * inf
        p = torch.exp(logp)
        logp.add_(entropy[:, None]).mul_(p).mul_(-grad_h[:, None])
        g = logp.sub_(p.mul_(grad_lp[:, None]))  # - grad_lp * p
    else:
        g = logp.exp_().mul_(-grad_lp[:, None])  # - grad_lp * p
    g.scatter_add_(1, labels[:, None], grad_lp[:, None])  # + grad_lp * onehot(label)
    return g.div_(temperature) if temperature != 1.0 else g  # z = logits / T


# -----------------------------------------------------------------------------
# Who runs a chunk: the Triton kernels (train/triton_entropy.py) on CUDA when triton imports, else
# the torch code above. RLVR_TRITON / USE_TRITON: "auto", "never", or "always" (any device: for
# testing the kernels on CPU under TRITON_INTERPRET=1).

USE_TRITON = os.environ.get("RLVR_TRITON", "auto")
_triton = None  # the module once imported, False if it cannot be


def _kernels(x: torch.Tensor):
    global _triton
    if USE_TRITON == "never" or (USE_TRITON == "auto" and not x.is_cuda) or x.stride(-1) != 1:
        return None
    if _triton is None:
        try:
            from . import triton_entropy

            _triton = triton_entropy
        except ImportError:
            _triton = False
    return _triton or None


def _scratch(x: torch.Tensor, owned: bool) -> torch.Tensor:
    """An fp32 buffer holding x that we may overwrite: x itself when it is ours and fp32."""
    return x if owned and x.dtype == torch.float32 else x.to(torch.float32, copy=True)


def _rows_forward(x, labels, temperature, owned=False, work=None):
    """Per-row (logprob, entropy, max, log_s) from raw logits x [n, V] of any float dtype."""
    k = _kernels(x)
    if k:
        return k.forward(x, labels, temperature)
    return _chunk_forward(_scratch(x, owned), labels, temperature, work)


def _matmul_into(h, weight, buf):
    """h @ weight.T into the first rows of a reused buffer (the lm_head logits of one chunk)."""
    return torch.matmul(h, weight.T, out=buf[: h.shape[0]])


def _rows_grad(x, labels, m, log_s, temperature, grad_lp, grad_h=None, entropy=None, *, dtype, owned=False, out=None):
    """The gradient w.r.t. raw logits x [n, V], in `dtype` (into `out` if given)."""
    k = _kernels(x)
    if k:
        if out is None:
            out = x if owned and x.dtype == dtype else torch.empty(x.shape, dtype=dtype, device=x.device)
        return k.grad(x, out, labels, m, log_s, temperature, grad_lp, grad_h, entropy)
    g = _chunk_grad(_scratch(x, owned), labels, m, log_s, temperature, grad_lp, grad_h, entropy)
    return g.to(dtype) if out is None else out.copy_(g)


def _valid_labels(labels: torch.Tensor):
    """Labels < 0 (HF's ignore index -100) give logprob 0 and no gradient."""
    valid = labels >= 0
    return labels.clamp(min=0), valid


# -----------------------------------------------------------------------------
# From logits.


class _LogitsFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, labels, temperature, rows):
        n = logits.shape[0]
        lp, ent, m, log_s = (torch.empty(n, dtype=torch.float32, device=logits.device) for _ in range(4))
        safe, valid = _valid_labels(labels)
        for i in range(0, n, rows):
            sl = slice(i, i + rows)
            lp[sl], ent[sl], m[sl], log_s[sl] = _rows_forward(logits[sl], safe[sl], temperature)
        lp.masked_fill_(~valid, 0.0)
        ctx.save_for_backward(logits, safe, valid, m, log_s, ent)
        ctx.temperature, ctx.rows = temperature, rows
        return lp, ent

    @staticmethod
    def backward(ctx, grad_lp, grad_ent):
        logits, safe, valid, m, log_s, ent = ctx.saved_tensors
        T, rows = ctx.temperature, ctx.rows
        grad_lp = torch.zeros_like(m) if grad_lp is None else grad_lp.float() * valid
        need = grad_lp != 0
        if grad_ent is not None:
            grad_ent = grad_ent.float()
            need |= grad_ent != 0
        grad = torch.zeros_like(logits)  # the one [N, V] tensor: autograd needs it, in logits' dtype
        for i in range(0, logits.shape[0], rows):
            sl = slice(i, i + rows)
            if bool(need[sl].any()):
                g_ent = None if grad_ent is None else grad_ent[sl]
                _rows_grad(
                    logits[sl],
                    safe[sl],
                    m[sl],
                    log_s[sl],
                    T,
                    grad_lp[sl],
                    g_ent,
                    ent[sl],
                    dtype=grad.dtype,
                    out=grad[sl],
                )
        return grad, None, None, None


def logprobs_and_entropy(
    logits: torch.Tensor, labels: torch.Tensor, *, temperature: float = 1.0, chunk_elements: int | None = None
):
    """log p(label) and entropy of softmax(logits / T), float32, shapes `labels.shape`.

    `logits` is `[..., V]` of any float dtype; both outputs are differentiable w.r.t. it.
    """
    V = logits.shape[-1]
    flat = logits.reshape(-1, V)
    lp, ent = _LogitsFn.apply(
        flat, labels.reshape(-1), float(temperature), _rows_per_chunk(V, chunk_elements, logits.device)
    )
    return lp.view(labels.shape), ent.view(labels.shape)


# -----------------------------------------------------------------------------
# Fused with the lm_head: logits = hidden @ weight.T, one chunk of rows at a time.


class _FusedFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, labels, mask, temperature, rows):
        n = hidden.shape[0]
        lp, ent, m, log_s = (torch.empty(n, dtype=torch.float32, device=hidden.device) for _ in range(4))
        safe, valid = _valid_labels(labels)
        # Two chunk buffers reused by every chunk: the logits (in the model's dtype, as the lm_head
        # computes them) and, on the torch path, exp of them.
        buf = hidden.new_empty((min(rows, n), weight.shape[0]), dtype=torch.result_type(hidden, weight))
        work = None if _kernels(buf) else torch.empty(buf.shape, dtype=torch.float32, device=buf.device)
        for i in range(0, n, rows):
            sl = slice(i, i + rows)
            logits = _matmul_into(hidden[sl], weight, buf)
            lp[sl], ent[sl], m[sl], log_s[sl] = _rows_forward(logits, safe[sl], temperature, owned=True, work=work)
        lp.masked_fill_(~valid, 0.0)
        ctx.save_for_backward(hidden, weight, safe, valid, m, log_s, mask, ent)
        ctx.temperature, ctx.rows = temperature, rows
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, not [N] zeros
        return lp, ent

    @staticmethod
    def backward(ctx, grad_lp, grad_ent):
        hidden, weight, safe, valid, m, log_s, mask, ent = ctx.saved_tensors
        T, rows = ctx.temperature, ctx.rows
        if grad_lp is None and grad_ent is None:
            return None, None, None, None, None, None
        grad_lp = torch.zeros_like(m) if grad_lp is None else grad_lp.float() * valid
        need = grad_lp != 0
        if grad_ent is not None:
            grad_ent = grad_ent.float() * valid
            need |= grad_ent != 0
        if mask is not None:
            if bool((need & ~mask).any()):
                raise RuntimeError(
                    "fused_logprobs_and_entropy: rows outside `mask` received a gradient "
                    "(a KL or all-token term?). Pass mask=None or include those rows."
                )
            need &= mask
        # Only rows with a gradient do any work: gather them, then chunk. A row with zero gradient
        # contributes exactly zero to both gradients, so skipping it is exact.
        idx = need.nonzero().squeeze(1)
        grad_hidden = torch.zeros_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = None
        if ctx.needs_input_grad[1]:  # fp32 accumulator across chunks: the 1-2 x V*H memory floor
            grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        buf = hidden.new_empty((min(rows, idx.numel()), weight.shape[0]), dtype=torch.result_type(hidden, weight))
        for i in range(0, idx.numel(), rows):
            r = idx[i : i + rows]
            h = hidden[r]
            g = _rows_grad(
                _matmul_into(h, weight, buf),
                safe[r],
                m[r],
                log_s[r],
                T,
                grad_lp[r],
                None if grad_ent is None else grad_ent[r],
                ent[r],
                dtype=weight.dtype,
                owned=True,
            )
            if grad_hidden is not None:
                grad_hidden[r] = (g @ weight).to(hidden.dtype)
            if grad_weight is not None:
                if g.dtype == torch.float32 and h.dtype == torch.float32:
                    grad_weight.addmm_(g.T, h)
                else:
                    grad_weight += g.T @ h.to(g.dtype)
        if grad_weight is not None:
            grad_weight = grad_weight.to(weight.dtype)
        return grad_hidden, grad_weight, None, None, None, None


def fused_logprobs_and_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
    chunk_elements: int | None = None,
):
    """log p(label) and entropy of softmax(hidden @ weight.T / T), float32, shapes `labels.shape`.

    hidden `[..., H]`, weight `[V, H]` (the lm_head), labels `[...]`. Log-probs and entropy are
    differentiable w.r.t. hidden and weight (entropy at labels < 0 has no gradient).

    Backward recomputes logits only for rows whose incoming gradient is non-zero, so the usual flow
    needs no mask up front: call with mask=None, build the top-ρ mask from the returned entropy,
    and the loss's exact zeros on unselected tokens make backward skip them. `mask` (bool,
    `labels.shape`), when known in advance, declares the only rows that may receive a gradient:
    backward then raises if any other row does, instead of silently computing it.
    """
    H = hidden.shape[-1]
    if mask is not None:
        mask = mask.reshape(-1).to(device=hidden.device, dtype=torch.bool)
    rows = _rows_per_chunk(weight.shape[0], chunk_elements, hidden.device)
    lp, ent = _FusedFn.apply(hidden.reshape(-1, H), weight, labels.reshape(-1), mask, float(temperature), rows)
    return lp.view(labels.shape), ent.view(labels.shape)


# -----------------------------------------------------------------------------
# The reference everyone else is checked against (and the benchmarks' baseline).


def naive_logprobs_and_entropy(
    logits: torch.Tensor, labels: torch.Tensor, *, temperature: float = 1.0, dtype: torch.dtype = torch.float32
):
    """Materialised softmax in `dtype`: several full [N, V] copies. For tests and baselines only."""
    logp = torch.log_softmax(logits.to(dtype) / temperature, dim=-1)
    safe, valid = _valid_labels(labels)
    lp = logp.gather(-1, safe[..., None]).squeeze(-1) * valid
    with torch.no_grad():
        ent = -(logp.exp() * logp).sum(-1)
    return lp, ent
