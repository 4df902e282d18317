"""The policy loss, restricted to a token mask: objective, covariance selection and normaliser named.

Objectives (`OBJECTIVES`; with ratio r = exp(logprob - old_logprob) and advantage A, per token):

- "dapo" (today's default, DAPO):
      loss_t = max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high))      (clip-higher)
      loss_t = min(loss_t, -A c)  where A < 0                           (dual clip, c = dual_clip)
- "gspo" (Zheng et al., arXiv 2507.18071): the sequence ratio s_i = exp(mean_t log r_t over the
  sequence's valid tokens) replaces r_t, applied per token as sg(s_i) π_t / sg(π_t) (value s_i,
  gradient s_i ∇log π_t) inside the same clip (GSPO's ε are ~1e-4, not 0.2). With a token mask
  s_i is still taken over all valid tokens and only selected tokens carry gradient: s_i is the
  trust-region test of the sample, how far the whole sequence's likelihood has moved; the
  unselected tokens move too (they share the parameters), and a ratio over the selected tokens
  alone would make the clip depend on which tokens the mask picked.
- "cispo" (MiniMax-M1, arXiv 2506.13585): loss_t = -sg(clip(r_t, 1 - clip_low, 1 + clip_high)) A log π_t:
  the clipped ratio only weights the gradient, no token's gradient is dropped.

Covariance selection (`COV_SELECTIONS`, Cui et al., arXiv 2505.22617; only with "dapo"), within
the selected tokens: cov_t = (A_t - mean A)(log π_t - mean log π), means over those tokens;
- "clip-cov": of the tokens with cov_lb < cov_t < cov_ub that the clip has not already clipped,
  max(1, floor(cov_ratio N)) drawn at random (seeded) get loss and gradient exactly 0; the rest
  keep the clipped surrogate;
- "kl-cov": every token uses the unclipped -A r; the max(1, floor(cov_ratio N)) tokens of largest
  cov add kl_cov_coef |log r|.

`policy_loss` runs in three stages, as verl separates its per-token policy losses from `agg_loss`:
1. `token_objective`: the objective per token, with the covariance selection when asked;
2. `mask_and_weight`: optional per-token weights (train.rollout_correction, TIS) multiply each token's loss,
   and every token outside response_mask ∧ token_mask gets exactly 0;
3. `agg_loss`: the scalar, under the normaliser.
Then the optional KL (`reference_kl`) and entropy bonus (`entropy_bonus`) terms, and `loss_metrics`.

How the selected tokens are averaged matters: the authors' code divides by the selected tokens, the
paper's formula and TRL by all valid response tokens; at ρ = 0.2 the two gradients differ by ~5x. So
the normaliser is an explicit argument:

- "selected": sum over selected tokens / #selected                (Wang et al., code)
- "all":      sum over selected tokens / #valid response tokens    (Wang et al., paper; TRL)
- "sequence": per sequence, sum over its selected tokens / its #valid tokens; mean over sequences
              that have any (GRPO's original per-sequence mean; GSPO's sequence-mean of token-means)
- "dr-grpo":  sum over selected tokens / (#sequences x max_response_tokens)   (Liu et al., arXiv 2503.20783)

An optional entropy bonus subtracts entropy_coef x the mean entropy over the valid (or the selected)
tokens; it needs an entropy that carries gradient.

An optional KL to a reference policy (k3 estimator, kl_coef) covers every valid response token,
averaged like "all" (or per sequence for "sequence"); it is off in the paper (kl_coef = 0).
"""

import math

import torch

# The clip of the paper's runs (Wang et al. 2025, arXiv 2506.01939; DAPO, Yu et al. 2025, arXiv 2503.14476): ε_low 0.2,
# clip-higher ε_high 0.28, dual clip c = 10 for A < 0. Every default of them (here, train.presets.Preset, the TRL
# config) is these names; train/config.py, train/configs/*.yaml and the verl recipe state the values (tested).
DAPO_CLIP_LOW = 0.2
DAPO_CLIP_HIGH = 0.28
DAPO_DUAL_CLIP = 10.0
# Clip-Cov / KL-Cov (Cui et al., arXiv 2505.22617): max(1, ⌊ratio·N⌋) tokens, clip-cov's candidates lb < cov < ub,
# kl-cov's coefficient of |log r|.
COV_RATIO = 2e-4
COV_LB = 1.0
COV_UB = 5.0
KL_COV_COEF = 1.0

NORMALIZERS = ("selected", "all", "sequence", "dr-grpo")
ENTROPY_BONUS_OVER = ("valid", "selected")
# Per-call metrics that the trainer averages over micro-batches and logs each step (when present).
STEP_METRICS = ("clip_frac_low", "clip_frac_high", "clip_frac_dual", "approx_kl", "cov_fraction", "entropy_bonus")


ENTROPY_PERCENTILES = (50, 80, 95)  # logged as entropy_p50, entropy_p80, entropy_p95


def entropy_percentiles(values: torch.Tensor) -> dict:
    """{"entropy_pQ": the Q-th percentile (nearest rank) of `values`} for Q in ENTROPY_PERCENTILES; {} if empty.
    The loss reports them per call, the trainer over a whole step's tokens: one definition for both."""
    if values.numel() == 0:
        return {}
    s = values.float().sort().values
    return {f"entropy_p{q}": float(s[round(q / 100 * (s.numel() - 1))]) for q in ENTROPY_PERCENTILES}


def _dapo(logprobs, old_logprobs, adv, sel, valid, *, clip_low, clip_high, dual_clip):
    # Unselected tokens (padding included, whose log-probs may be garbage) get ratio 1 and loss 0
    # by `where`, never by indexing with a mask nor by multiplying (inf * 0 = nan): their gradient
    # is exactly zero.
    log_ratio = torch.where(sel, logprobs.float() - old_logprobs.float(), 0.0)
    ratio = torch.exp(log_ratio)
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    pg = torch.maximum(unclipped, clipped)
    if dual_clip is not None:
        pg = torch.where(adv < 0, torch.minimum(pg, -adv * dual_clip), pg)
    return pg, log_ratio, {"clipped": clipped > unclipped, "unclipped": unclipped}


def _gspo(logprobs, old_logprobs, adv, sel, valid, *, clip_low, clip_high, dual_clip):
    if logprobs.dim() != 2:
        raise ValueError('objective "gspo" needs [B, T] inputs (a sequence per row)')
    lp = logprobs.float()
    log_ratio = torch.where(valid, lp - old_logprobs.float(), 0.0)
    seq = log_ratio.sum(-1, keepdim=True) / valid.sum(-1, keepdim=True).clamp(min=1)
    s = torch.exp(seq.detach() + torch.where(sel, lp - lp.detach(), 0.0))  # value s_i, gradient s_i ∇log π_t
    pg = torch.maximum(-adv * s, -adv * s.clamp(1.0 - clip_low, 1.0 + clip_high))
    return pg, torch.where(sel, seq.expand_as(lp), 0.0), {}


def _cispo(logprobs, old_logprobs, adv, sel, valid, *, clip_low, clip_high, dual_clip):
    lp = logprobs.float()
    log_ratio = torch.where(sel, lp - old_logprobs.float(), 0.0)
    weight = torch.exp(log_ratio).clamp(1.0 - clip_low, 1.0 + clip_high).detach()
    return -weight * adv * torch.where(sel, lp, 0.0), log_ratio, {}


# objective -> fn(logprobs, old, adv, sel, valid, *, clip_low, clip_high, dual_clip) -> (per-token loss,
# per-token log ratio used for the clip metrics, extras for COV_SELECTIONS).
OBJECTIVES = {"dapo": _dapo, "gspo": _gspo, "cispo": _cispo}


def _cov(logprobs, adv, sel):
    """cov_t = (A_t - mean A)(log π_t - mean log π) over the selected tokens (0 elsewhere), no gradient."""
    n = sel.sum().clamp(min=1)
    lp, a = logprobs.detach().float(), adv.detach()
    lp_c = torch.where(sel, lp - torch.where(sel, lp, 0.0).sum() / n, 0.0)
    a_c = torch.where(sel, a - torch.where(sel, a, 0.0).sum() / n, 0.0)
    return a_c * lp_c


def _num_cov(ratio: float, n: int) -> int:
    return max(1, math.floor(round(ratio * n, 6))) if n else 0


def _clip_cov(pg, log_ratio, extras, logprobs, adv, sel, *, cov_ratio, cov_lb, cov_ub, kl_cov_coef, seed):
    if seed is None:
        raise ValueError("clip-cov draws tokens at random: it needs a seed (train.mask.selection_seed)")
    cov = _cov(logprobs, adv, sel)
    cand = sel & (cov > cov_lb) & (cov < cov_ub) & ~extras["clipped"]
    idx = cand.reshape(-1).nonzero().squeeze(1)
    k = min(_num_cov(cov_ratio, int(sel.sum())), idx.numel())
    gen = torch.Generator().manual_seed(seed)
    chosen = idx[torch.randperm(idx.numel(), generator=gen)[:k].to(idx.device)]
    hit = torch.zeros(sel.numel(), dtype=torch.bool, device=sel.device)
    hit[chosen] = True
    hit = hit.view(sel.shape)
    return torch.where(hit, 0.0, pg), hit


def _kl_cov(pg, log_ratio, extras, logprobs, adv, sel, *, cov_ratio, cov_lb, cov_ub, kl_cov_coef, seed):
    cov = torch.where(sel, _cov(logprobs, adv, sel), -torch.inf).reshape(-1)
    k = _num_cov(cov_ratio, int(sel.sum()))
    hit = torch.zeros(sel.numel(), dtype=torch.bool, device=sel.device)
    hit[torch.topk(cov, k).indices] = True
    hit = hit.view(sel.shape)
    pg = torch.where(sel, extras["unclipped"], 0.0) + torch.where(hit, kl_cov_coef * log_ratio.abs(), 0.0)
    return pg, hit


# selection -> fn(per-token loss, log ratio, objective extras, logprobs, adv, sel, *, cov settings, seed)
# -> (new per-token loss, tokens it acted on). Needs the "dapo" objective's extras.
COV_SELECTIONS = {"clip-cov": _clip_cov, "kl-cov": _kl_cov}


def check_options(*, normalizer: str, objective: str, cov: str | None, entropy_over: str) -> None:
    """ValueError for a name outside its registry, or a covariance selection without the dapo objective."""
    if normalizer not in NORMALIZERS:
        raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {tuple(OBJECTIVES)}, got {objective!r}")
    if cov is not None and (cov not in COV_SELECTIONS or objective != "dapo"):
        raise ValueError(f"cov selection {cov!r}: one of {tuple(COV_SELECTIONS)}, with objective dapo only")
    if entropy_over not in ENTROPY_BONUS_OVER:
        raise ValueError(f"entropy_over must be one of {ENTROPY_BONUS_OVER}, got {entropy_over!r}")


def token_sets(response_mask, token_mask, device):
    """(valid, selected) bool tensors: the response tokens, and those of them the token mask keeps."""
    valid = response_mask.to(device) != 0
    sel = valid if token_mask is None else valid & (token_mask.to(device) != 0)
    return valid, sel


def token_advantages(advantages, logprobs):
    """Advantages as float32 per token, shaped like `logprobs` (a per-sequence [B] is broadcast along T)."""
    adv = advantages.to(logprobs.device, torch.float32)
    if adv.dim() == 1 and logprobs.dim() == 2:
        adv = adv[:, None]
    return adv.expand(logprobs.shape)


def token_objective(
    logprobs,
    old_logprobs,
    adv,
    sel,
    valid,
    *,
    objective: str = "dapo",
    clip_low: float = DAPO_CLIP_LOW,
    clip_high: float = DAPO_CLIP_HIGH,
    dual_clip: float | None = DAPO_DUAL_CLIP,
    cov: str | None = None,
    cov_ratio: float = COV_RATIO,
    cov_lb: float = COV_LB,
    cov_ub: float = COV_UB,
    kl_cov_coef: float = KL_COV_COEF,
    seed: int | None = None,
):
    """Stage 1, the objective per token (verl's `compute_policy_loss_*`; clip-cov / kl-cov are objectives there
    too): (per-token loss, per-token log ratio, tokens the covariance selection acted on or None).
    Unselected tokens may hold any value here: stage 2 zeroes them."""
    pg, log_ratio, extras = OBJECTIVES[objective](
        logprobs, old_logprobs, adv, sel, valid, clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip
    )
    if cov is None:
        return pg, log_ratio, None
    pg, hit = COV_SELECTIONS[cov](
        pg,
        log_ratio,
        extras,
        logprobs,
        adv,
        sel,
        cov_ratio=cov_ratio,
        cov_lb=cov_lb,
        cov_ub=cov_ub,
        kl_cov_coef=kl_cov_coef,
        seed=seed,
    )
    return pg, log_ratio, hit


def mask_and_weight(pg, sel, token_weights=None):
    """Stage 2: each token's loss times its weight (no gradient through the weights), exactly 0 off `sel`.
    `where`, not a product, so a non-finite loss on an unselected token (padding) cannot leak in."""
    if token_weights is not None:
        pg = pg * token_weights.detach().to(pg.device, pg.dtype)
    return torch.where(sel, pg, 0.0)


def agg_loss(loss_mat, valid, sel, normalizer: str, max_response_tokens: int | None = None):
    """Stage 3, aggregation (verl's `agg_loss`): the scalar of per-token losses that are 0 outside the selected
    tokens, divided as `normalizer` says (module docstring)."""
    if normalizer == "sequence":
        if loss_mat.dim() != 2:
            raise ValueError('normalizer="sequence" needs [B, T] inputs')
        per_seq_valid = valid.sum(-1)
        has = per_seq_valid > 0
        return ((loss_mat.sum(-1) / per_seq_valid.clamp(min=1)) * has).sum() / has.sum().clamp(min=1)
    if normalizer == "dr-grpo":
        if loss_mat.dim() != 2 or not max_response_tokens:
            raise ValueError('normalizer="dr-grpo" needs [B, T] inputs and max_response_tokens')
        return loss_mat.sum() / torch.tensor(float(loss_mat.shape[0] * max_response_tokens), device=loss_mat.device)
    denom = sel.sum() if normalizer == "selected" else valid.sum()
    return loss_mat.sum() / denom.clamp(min=1)


def reference_kl(logprobs, ref_logprobs, valid, normalizer: str):
    """The k3 KL to a reference policy over every valid token (unbiased, non-negative, 0 on padding), averaged
    like "all", or per sequence under the "sequence" normaliser."""
    d = torch.where(valid, ref_logprobs.float() - logprobs.float(), 0.0)
    kl = torch.exp(d) - d - 1.0
    return agg_loss(kl, valid, valid, "sequence" if normalizer == "sequence" else "all")


def entropy_bonus(entropy, over):
    """The mean entropy over the tokens `over`; it must carry gradient to act as a bonus."""
    if entropy is None or not entropy.requires_grad:
        raise ValueError("entropy bonus (entropy_coef != 0) needs an entropy that carries gradient")
    return torch.where(over, entropy.float(), 0.0).sum() / over.sum().clamp(min=1)


@torch.no_grad()
def loss_metrics(log_ratio, adv, sel, valid, *, clip_low, clip_high, dual_clip, hit=None, entropy=None) -> dict:
    """Clip fractions and approximate KL over the selected tokens, token counts, what the covariance selection
    acted on (`hit`), and the entropy's percentiles and means. `dual_clip` None: no dual clip to count."""
    ratio = torch.exp(log_ratio)
    n_sel, n_valid = sel.sum(), valid.sum()
    ns = n_sel.clamp(min=1).float()
    lo, hi = 1.0 - clip_low, 1.0 + clip_high
    metrics = {
        "clip_frac_low": float(((ratio < lo) & (adv < 0) & sel).sum() / ns),
        "clip_frac_high": float(((ratio > hi) & (adv > 0) & sel).sum() / ns),
        "clip_frac_dual": float(((ratio > dual_clip) & (adv < 0) & sel).sum() / ns) if dual_clip is not None else 0.0,
        "approx_kl": float((((ratio - 1.0) - log_ratio) * sel).sum() / ns),
        "selected_fraction": float(n_sel / n_valid.clamp(min=1)),
        "num_selected": int(n_sel),
        "num_valid": int(n_valid),
    }
    if hit is not None:  # clip-cov: tokens whose gradient was dropped; kl-cov: tokens penalised
        metrics["cov_fraction"] = float(hit.sum() / n_valid.clamp(min=1))
        metrics["num_cov"] = int(hit.sum())
    if entropy is not None:
        e = entropy.detach().float()
        metrics.update(entropy_percentiles(e[valid]))
        metrics["entropy_mean"] = float(e[valid].mean()) if n_valid else 0.0
        metrics["entropy_selected_mean"] = float(e[sel].mean()) if n_sel else 0.0
    return metrics


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    token_mask: torch.Tensor | None = None,
    clip_low: float = DAPO_CLIP_LOW,
    clip_high: float = DAPO_CLIP_HIGH,
    dual_clip: float | None = DAPO_DUAL_CLIP,
    normalizer: str = "selected",
    ref_logprobs: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    entropy: torch.Tensor | None = None,
    objective: str = "dapo",
    cov: str | None = None,
    cov_ratio: float = COV_RATIO,
    cov_lb: float = COV_LB,
    cov_ub: float = COV_UB,
    kl_cov_coef: float = KL_COV_COEF,
    seed: int | None = None,
    max_response_tokens: int | None = None,
    entropy_coef: float = 0.0,
    entropy_over: str = "valid",
    token_weights: torch.Tensor | None = None,
):
    """Scalar loss and a dict of float metrics: the three stages, then the optional KL and entropy terms.

    logprobs, old_logprobs, response_mask, token_mask, ref_logprobs, entropy: `[B, T]` (or `[N]`);
    advantages: per sequence `[B]` or per token like logprobs. Masks may be bool or 0/1.
    dual_clip=None turns the dual clip off. `entropy` feeds the logged percentiles, and the bonus when
    entropy_coef != 0. `seed` is for clip-cov's random draw; max_response_tokens for "dr-grpo".
    `token_weights` (no gradient) multiply each token's policy loss (train.rollout_correction's TIS).
    """
    check_options(normalizer=normalizer, objective=objective, cov=cov, entropy_over=entropy_over)
    valid, sel = token_sets(response_mask, token_mask, logprobs.device)
    adv = token_advantages(advantages, logprobs)
    pg, log_ratio, hit = token_objective(
        logprobs,
        old_logprobs,
        adv,
        sel,
        valid,
        objective=objective,
        clip_low=clip_low,
        clip_high=clip_high,
        dual_clip=dual_clip,
        cov=cov,
        cov_ratio=cov_ratio,
        cov_lb=cov_lb,
        cov_ub=cov_ub,
        kl_cov_coef=kl_cov_coef,
        seed=seed,
    )
    pg = mask_and_weight(pg, sel, token_weights)
    loss = agg_loss(pg, valid, sel, normalizer, max_response_tokens)

    metrics = {}
    if ref_logprobs is not None and kl_coef:
        kl = reference_kl(logprobs, ref_logprobs, valid, normalizer)
        loss = loss + kl_coef * kl
        metrics["ref_kl"] = float(kl.detach())
    if entropy_coef:
        bonus = entropy_bonus(entropy, valid if entropy_over == "valid" else sel)
        loss = loss - entropy_coef * bonus
        metrics["entropy_bonus"] = float(bonus.detach())
    dual = dual_clip if objective == "dapo" else None  # only dapo has a dual clip
    metrics.update(
        loss_metrics(
            log_ratio, adv, sel, valid, clip_low=clip_low, clip_high=clip_high, dual_clip=dual, hit=hit, entropy=entropy
        )
    )
    return loss, metrics
