"""The top-ρ entropy mask: which response tokens get a policy gradient.

Wang et al. (arXiv 2506.01939) train only on the ρ = 20 % highest-entropy response tokens. Two
published selection rules exist and both are here, by name:

- rule="topk" (the authors' code): exactly k = ceil(ρ·N) of the N valid tokens, ties broken by
  position (first tokens win), so the count is exact;
- rule="quantile" (TRL): keep H >= quantile(1-ρ) (linear interpolation, as torch.quantile); ties
  are all kept, so the count can exceed k.

and three scopes for "the N tokens":

- scope="micro" (the authors' code): all valid tokens of the tensor passed in (one micro-batch);
- scope="global" (TRL): all valid tokens on all data-parallel ranks (torch.distributed all-gather,
  padded so ranks holding different token counts never hang); without an initialised process
  group it is the same as "micro";
- scope="local": each sequence (row) separately, ρ of every response.

Padding (response_mask false) never competes. Neither rule uses torch.quantile, which refuses more
than 2^24 elements: order statistics come from kthvalue. ρ = 1 returns the response mask itself.
"""
import math

import torch
import torch.distributed as dist

RULES = ("topk", "quantile")
SCOPES = ("micro", "global", "local")


def num_selected(rho: float, n: int) -> int:
    """k = ceil(ρ·n), robust to float noise (0.7 * 10 = 7.000000000000001 must give 7)."""
    return min(n, math.ceil(round(rho * n, 6)))


def _kth_largest(values: torch.Tensor, k: int) -> torch.Tensor:
    return torch.kthvalue(values, values.numel() - k + 1).values


def _quantile(values: torch.Tensor, q: float) -> torch.Tensor:
    """torch.quantile(values, q) (linear interpolation) without its 2^24-element limit."""
    pos = q * (values.numel() - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    v_lo = torch.kthvalue(values, lo + 1).values
    v_hi = v_lo if hi == lo else torch.kthvalue(values, hi + 1).values
    return torch.lerp(v_lo, v_hi, torch.tensor(pos - lo, dtype=values.dtype, device=values.device))


def _select(values: torch.Tensor, rho: float, rule: str, invert: bool, start: int = 0,
            count: int | None = None):
    """Select within `values` (all valid tokens of the scope, float32, 1-D).

    Returns (selected flags for values[start:start+count], threshold). Selecting the bottom ρ is
    selecting the top ρ of -H, so invert just flips the sign.
    """
    count = values.numel() - start if count is None else count
    n = values.numel()
    key = -values if invert else values
    if rule == "quantile":
        threshold = _quantile(key, 1.0 - rho)
        keep = key[start:start + count] >= threshold
    else:
        k = num_selected(rho, n)
        threshold = _kth_largest(key, k)
        above = key > threshold
        # Ties at the threshold: the first (k - #above) of them, in scope order, are kept.
        tied = key == threshold
        tie_rank = torch.cumsum(tied, 0) - 1
        keep = above | (tied & (tie_rank < k - int(above.sum())))
        keep = keep[start:start + count]
    return keep, float(-threshold if invert else threshold)


def _gather_valid(values: torch.Tensor, group=None):
    """All ranks' valid entropies in rank order, and where this rank's begin. Padded all-gather."""
    world = dist.get_world_size(group)
    size = torch.tensor([values.numel()], dtype=torch.long, device=values.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size, group=group)
    sizes = [int(s) for s in sizes]
    padded = torch.zeros(max(max(sizes), 1), dtype=values.dtype, device=values.device)
    padded[:values.numel()] = values
    chunks = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(chunks, padded, group=group)
    rank = dist.get_rank(group)
    return torch.cat([c[:s] for c, s in zip(chunks, sizes)]), sum(sizes[:rank])


def top_entropy_mask(entropy: torch.Tensor, response_mask: torch.Tensor, rho: float, *,
                     rule: str = "topk", scope: str = "micro", invert: bool = False, group=None):
    """Boolean mask (shape of `entropy`) of the top-ρ (bottom-ρ if invert) valid tokens, and stats.

    entropy `[B, T]` or `[N]`; response_mask the same shape, bool or 0/1 (any dtype: it is compared,
    never used as an index). stats: selected_fraction (selected / valid, over the scope), threshold
    (the entropy at the cut; with "local" the mean over sequences; with ρ = 1 the
    smallest valid entropy), num_selected, num_valid.
    """
    if rule not in RULES or scope not in SCOPES:
        raise ValueError(f"rule must be one of {RULES} and scope one of {SCOPES}")
    if not 0.0 < rho <= 1.0:
        raise ValueError(f"rho must be in (0, 1], got {rho}")
    valid = response_mask.to(device=entropy.device) != 0
    if valid.shape != entropy.shape:
        raise ValueError(f"response_mask shape {tuple(valid.shape)} != entropy {tuple(entropy.shape)}")
    ent = entropy.detach().float()
    distributed = scope == "global" and dist.is_available() and dist.is_initialized()

    if rho == 1.0:  # no selection at all: exactly the response mask, no collectives
        mask = valid.clone()
        threshold = float(ent[valid].min()) if valid.any() else float("nan")
    elif scope == "local":
        mask = torch.zeros_like(valid)
        rows_v, rows_e = valid.reshape(-1, valid.shape[-1]), ent.reshape(-1, ent.shape[-1])
        thresholds = []
        for b in range(rows_v.shape[0]):
            if rows_v[b].any():
                keep, t = _select(rows_e[b][rows_v[b]], rho, rule, invert)
                mask.view(-1, valid.shape[-1])[b, rows_v[b]] = keep
                thresholds.append(t)
        threshold = sum(thresholds) / len(thresholds) if thresholds else float("nan")
    else:
        values = ent[valid]
        start, count = 0, values.numel()
        if distributed:
            values, start = _gather_valid(values, group)
        mask = torch.zeros_like(valid)
        if values.numel():
            keep, threshold = _select(values, rho, rule, invert, start, count)
            mask[valid] = keep
        else:
            threshold = float("nan")

    counts = torch.stack([mask.sum(), valid.sum()]).double()
    if distributed:
        dist.all_reduce(counts, group=group)
    selected, total = int(counts[0]), int(counts[1])
    stats = {"selected_fraction": selected / max(total, 1), "threshold": threshold,
             "num_selected": selected, "num_valid": total}
    return mask, stats
