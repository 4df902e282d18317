"""The DAPO/GRPO clipped policy loss, restricted to a token mask, with the normaliser named.

Per token, with ratio r = exp(logprob - old_logprob) and advantage A:

    loss_t = max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high))      (clip-higher, DAPO)
    loss_t = min(loss_t, -A c)  where A < 0                           (dual clip, c = dual_clip)

Only tokens in response_mask ∧ token_mask contribute. How they are averaged matters: the authors'
code divides by the selected tokens, the paper's formula and TRL by all valid response tokens; at
ρ = 0.2 the two gradients differ by ~5x. So the normaliser is an explicit argument:

- "selected": sum over selected tokens / #selected                (Wang et al., code)
- "all":      sum over selected tokens / #valid response tokens    (Wang et al., paper; TRL)
- "sequence": per sequence, sum over its selected tokens / its #valid tokens; mean over sequences
              that have any (GRPO's original per-sequence mean)

An optional KL to a reference policy (k3 estimator, kl_coef) covers every valid response token,
averaged like "all" (or per sequence for "sequence"); it is off in the paper (kl_coef = 0).
"""
import torch

NORMALIZERS = ("selected", "all", "sequence")


def _percentiles(values: torch.Tensor, qs=(0.5, 0.8, 0.95)) -> dict:
    if values.numel() == 0:
        return {}
    s = values.float().sort().values
    return {f"entropy_p{round(q * 100)}": float(s[round(q * (s.numel() - 1))]) for q in qs}


def policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                response_mask: torch.Tensor, *, token_mask: torch.Tensor | None = None,
                clip_low: float = 0.2, clip_high: float = 0.28, dual_clip: float | None = 10.0,
                normalizer: str = "selected", ref_logprobs: torch.Tensor | None = None,
                kl_coef: float = 0.0, entropy: torch.Tensor | None = None):
    """Scalar loss and a dict of float metrics.

    logprobs, old_logprobs, response_mask, token_mask, ref_logprobs, entropy: `[B, T]` (or `[N]`);
    advantages: per sequence `[B]` or per token like logprobs. Masks may be bool or 0/1.
    dual_clip=None turns the dual clip off. `entropy` only feeds the logged percentiles.
    """
    if normalizer not in NORMALIZERS:
        raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
    valid = response_mask.to(logprobs.device) != 0
    sel = valid if token_mask is None else valid & (token_mask.to(logprobs.device) != 0)
    adv = advantages.to(logprobs.device, torch.float32)
    if adv.dim() == 1 and logprobs.dim() == 2:
        adv = adv[:, None]
    adv = adv.expand(logprobs.shape)

    # Unselected tokens (padding included, whose log-probs may be garbage) get ratio 1 and loss 0
    # by `where`, never by indexing with a mask nor by multiplying (inf * 0 = nan): their gradient
    # is exactly zero.
    log_ratio = torch.where(sel, logprobs.float() - old_logprobs.float(), 0.0)
    ratio = torch.exp(log_ratio)
    pg = torch.maximum(-adv * ratio, -adv * ratio.clamp(1.0 - clip_low, 1.0 + clip_high))
    if dual_clip is not None:
        pg = torch.where(adv < 0, torch.minimum(pg, -adv * dual_clip), pg)
    pg = torch.where(sel, pg, 0.0)

    n_sel, n_valid = sel.sum(), valid.sum()
    if normalizer == "sequence":
        if logprobs.dim() != 2:
            raise ValueError('normalizer="sequence" needs [B, T] inputs')
        per_seq_valid = valid.sum(-1)
        has = per_seq_valid > 0

        def agg(x):
            return ((x.sum(-1) / per_seq_valid.clamp(min=1)) * has).sum() / has.sum().clamp(min=1)
    else:
        denom = n_sel if normalizer == "selected" else n_valid

        def agg(x):
            return x.sum() / denom.clamp(min=1)
    loss = agg(pg)

    metrics = {}
    if ref_logprobs is not None and kl_coef:
        d = torch.where(valid, ref_logprobs.float() - logprobs.float(), 0.0)
        kl = torch.exp(d) - d - 1.0  # k3: unbiased, non-negative; 0 on padding
        kl_loss = agg(kl) if normalizer == "sequence" else kl.sum() / n_valid.clamp(min=1)
        loss = loss + kl_coef * kl_loss
        metrics["ref_kl"] = float(kl_loss.detach())

    with torch.no_grad():
        ns = n_sel.clamp(min=1).float()
        lo, hi = 1.0 - clip_low, 1.0 + clip_high
        metrics.update({
            "clip_frac_low": float(((ratio < lo) & (adv < 0) & sel).sum() / ns),
            "clip_frac_high": float(((ratio > hi) & (adv > 0) & sel).sum() / ns),
            "clip_frac_dual": float(((ratio > dual_clip) & (adv < 0) & sel).sum() / ns)
            if dual_clip is not None else 0.0,
            "approx_kl": float((((ratio - 1.0) - log_ratio) * sel).sum() / ns),
            "selected_fraction": float(n_sel / n_valid.clamp(min=1)),
            "num_selected": int(n_sel),
            "num_valid": int(n_valid),
        })
        if entropy is not None:
            e = entropy.detach().float()
            metrics.update(_percentiles(e[valid]))
            metrics["entropy_mean"] = float(e[valid].mean()) if n_valid else 0.0
            metrics["entropy_selected_mean"] = float(e[sel].mean()) if n_sel else 0.0
    return loss, metrics
