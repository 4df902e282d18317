"""Rollout correction: the sampler (vLLM) and the trainer compute the policy's log-probs with different
kernels, so the tokens were drawn from μ (the sampler) while the loss treats them as drawn from π_old (the
trainer's own log-probs of the same tokens, before the update). Two corrections, both off by default:

- "tis" (truncated importance sampling, per token): the per-token loss is weighted by
      w_t = min(π_old(y_t) / μ(y_t), tis_cap)          (cap 2.0; no gradient through w)
- "mis" (masked importance sampling, per sequence): a sequence whose geometric-mean ratio
      g_i = exp(mean over its valid tokens of log π_old - log μ)
  leaves [mis_low, mis_high] is dropped: after the token selection its tokens leave the loss, numerator and
  normaliser. The selection is taken over the batch as sampled, so the mask never depends on the correction
  and "the selected tokens that MIS dropped" is a number one can log.

Whatever the correction, the mismatch is measured: mean |log π_old - log μ| and the k3 estimate of
KL(μ ‖ π_old), (r - 1) - log r with r = π_old / μ, over all valid tokens and over the selected ones (with a
20 % mask the selected tokens are the ones whose gradient a mismatch distorts). With a correction on, the
weights' mean and max and the fraction of tokens it changed (TIS: weight capped; MIS: sequence dropped)
are logged over the same two sets.

The HF backend samples with the policy's own forward pass: μ = π_old, there is nothing to correct, and a
correction asked of it is a config error (train.config).
"""

from __future__ import annotations

import torch

CORRECTIONS = ("none", "tis", "mis")
# The metric names the trainer logs each step (means over the update's loss calls; *_max: the maximum).
METRICS = tuple(
    f"{name}_{over}"
    for name in ("mismatch_abs_logp", "mismatch_k3", "rc_weight_mean", "rc_weight_max", "rc_changed_fraction")
    for over in ("all", "selected")
)


def _log_ratio(old_logprobs, sampler_logprobs, valid):
    return torch.where(valid, old_logprobs.detach().float() - sampler_logprobs.float(), 0.0)


def sequence_keep(old_logprobs, sampler_logprobs, response_mask, *, low: float, high: float) -> torch.Tensor:
    """MIS: [B] bool, True where the sequence's geometric-mean ratio lies in [low, high] (empty rows kept)."""
    valid = response_mask != 0
    lr = _log_ratio(old_logprobs, sampler_logprobs, valid)
    g = torch.exp(lr.sum(-1) / valid.sum(-1).clamp(min=1))
    return (g >= low) & (g <= high)


def token_weights(old_logprobs, sampler_logprobs, response_mask, *, cap: float) -> torch.Tensor:
    """TIS: per-token min(π_old / μ, cap), no gradient; 1 on padding."""
    valid = response_mask != 0
    return torch.exp(_log_ratio(old_logprobs, sampler_logprobs, valid)).clamp(max=cap)


def metrics(old_logprobs, sampler_logprobs, response_mask, token_mask, *, weights=None, dropped=None) -> dict:
    """The mismatch (always) and the correction's weights (when given) over all valid tokens and the selected.

    `response_mask`: the valid tokens before any MIS drop; `token_mask`: the tokens the loss selected;
    `weights`: TIS's per-token weights; `dropped`: MIS's [B] bool of dropped sequences."""
    valid = response_mask != 0
    lr = _log_ratio(old_logprobs, sampler_logprobs, valid)
    k3 = torch.exp(lr) - 1.0 - lr
    out = {}
    if weights is None and dropped is not None:
        weights = (~dropped).float()[:, None].expand_as(lr)
    for over, m in (("all", valid), ("selected", valid & (token_mask != 0))):
        n = m.sum().clamp(min=1)
        out[f"mismatch_abs_logp_{over}"] = float(torch.where(m, lr.abs(), 0.0).sum() / n)
        out[f"mismatch_k3_{over}"] = float(torch.where(m, k3, 0.0).sum() / n)
        if weights is not None:
            w = weights.float()
            out[f"rc_weight_mean_{over}"] = float(torch.where(m, w, 0.0).sum() / n)
            out[f"rc_weight_max_{over}"] = float(torch.where(m, w, -torch.inf).max()) if m.any() else 0.0
            changed = (w == 0) if dropped is not None else (torch.exp(lr) > w)
            out[f"rc_changed_fraction_{over}"] = float((changed & m).sum() / n)
    return out
