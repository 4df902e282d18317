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

`random_mask` is the control the entropy mask needs: exactly ceil(ρ·N) valid tokens of the same
scope, chosen uniformly at random (ρ of the tokens, but not the forking ones). Its draw is a pure
function of an integer seed (`selection_seed(run seed, step, call)`), so a run is reproducible and
every step and micro-batch draws afresh. `SELECTIONS` names every token selection by the config
value that chooses it; each entry takes the same arguments, so callers never branch on the name.
"""

import math

import torch
import torch.distributed as dist

RULES = ("topk", "quantile")
SCOPES = ("micro", "global", "local")
_M64 = (1 << 64) - 1


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


def _select(values: torch.Tensor, rho: float, rule: str, invert: bool, start: int = 0, count: int | None = None):
    """Select within `values` (all valid tokens of the scope, float32, 1-D).

    Returns (selected flags for values[start:start+count], threshold). Selecting the bottom ρ is
    selecting the top ρ of -H, so invert just flips the sign.
    """
    count = values.numel() - start if count is None else count
    n = values.numel()
    key = -values if invert else values
    if rule == "quantile":
        threshold = _quantile(key, 1.0 - rho)
        keep = key[start : start + count] >= threshold
    else:
        k = num_selected(rho, n)
        threshold = _kth_largest(key, k)
        above = key > threshold
        # Ties at the threshold: the first (k - #above) of them, in scope order, are kept.
        tied = key == threshold
        tie_rank = torch.cumsum(tied, 0) - 1
        keep = above | (tied & (tie_rank < k - int(above.sum())))
        keep = keep[start : start + count]
    return keep, float(-threshold if invert else threshold)


def _gather_sizes(n: int, device, group=None) -> list[int]:
    """Every rank's count `n`, in rank order."""
    size = torch.tensor([n], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size(group))]
    dist.all_gather(sizes, size, group=group)
    return [int(s) for s in sizes]


def _gather_valid(values: torch.Tensor, group=None):
    """All ranks' valid entropies in rank order, and where this rank's begin. Padded all-gather."""
    world = dist.get_world_size(group)
    sizes = _gather_sizes(values.numel(), values.device, group)
    padded = torch.zeros(max(max(sizes), 1), dtype=values.dtype, device=values.device)
    padded[: values.numel()] = values
    chunks = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(chunks, padded, group=group)
    rank = dist.get_rank(group)
    return torch.cat([c[:s] for c, s in zip(chunks, sizes)]), sum(sizes[:rank])


def top_entropy_mask(
    entropy: torch.Tensor,
    response_mask: torch.Tensor,
    rho: float,
    *,
    rule: str = "topk",
    scope: str = "micro",
    invert: bool = False,
    group=None,
):
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

    return mask, _stats(mask, valid, threshold, distributed, group)


def _stats(mask, valid, threshold, distributed, group) -> dict:
    counts = torch.stack([mask.sum(), valid.sum()]).double()
    if distributed:
        dist.all_reduce(counts, group=group)
    selected, total = int(counts[0]), int(counts[1])
    return {
        "selected_fraction": selected / max(total, 1),
        "threshold": threshold,
        "num_selected": selected,
        "num_valid": total,
    }


def _mix64(z: int) -> int:
    """splitmix64's finaliser: a bijection of 64-bit integers that scatters nearby inputs."""
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def selection_seed(run_seed: int, step: int, call: int = 0, rank: int = 0) -> int:
    """The seed of one random draw: a function of (run seed, step, call within the step, rank) only.

    Same inputs, same tokens (a resumed run redraws what it drew); any input changed, an unrelated
    draw. Fits torch.Generator.manual_seed (63 bits).
    """
    z = 0
    for v in (run_seed, step, call, rank):
        z = _mix64(z ^ (int(v) & _M64))
    return z >> 1


def random_mask(response_mask: torch.Tensor, rho: float, *, seed: int, scope: str = "micro", group=None):
    """Boolean mask of exactly ceil(ρ·N) valid tokens drawn uniformly at random, and stats.

    Scopes as `top_entropy_mask`: N is the tensor's valid tokens ("micro"), all ranks' ("global":
    every rank draws the same keys for the concatenation and keeps its slice, so only the counts are
    gathered), or each row's ("local"). Each valid token gets an independent uniform key (float64,
    from a CPU generator seeded with `seed`) and the ceil(ρ·N) largest keys win: a uniformly random
    subset of that size. Outside "global" the rank is folded into the seed so ranks draw differently.
    stats as `top_entropy_mask`'s, with threshold NaN (there is no entropy cut).
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    if not 0.0 < rho <= 1.0:
        raise ValueError(f"rho must be in (0, 1], got {rho}")
    valid = response_mask != 0
    initialised = dist.is_available() and dist.is_initialized()
    distributed = scope == "global" and initialised
    if initialised and not distributed:
        seed = selection_seed(seed, dist.get_rank(group))
    gen = torch.Generator().manual_seed(seed)
    mask = torch.zeros_like(valid)
    if rho == 1.0:
        mask = valid.clone()
    elif scope == "local":
        rows_v, rows_m = valid.reshape(-1, valid.shape[-1]), mask.view(-1, valid.shape[-1])
        for b in range(rows_v.shape[0]):
            n = int(rows_v[b].sum())
            if n:
                keep, _ = _select(torch.rand(n, generator=gen, dtype=torch.float64), rho, "topk", False)
                rows_m[b, rows_v[b]] = keep.to(valid.device)
    else:
        n = int(valid.sum())
        sizes = _gather_sizes(n, valid.device, group) if distributed else [n]
        start = sum(sizes[: dist.get_rank(group)]) if distributed else 0
        if sum(sizes):
            keys = torch.rand(sum(sizes), generator=gen, dtype=torch.float64)
            keep, _ = _select(keys, rho, "topk", False, start, n)
            mask[valid] = keep.to(valid.device)
    return mask, _stats(mask, valid, float("nan"), distributed, group)


def _by_entropy(entropy, response_mask, rho, *, rule, scope, invert, group, seed):
    return top_entropy_mask(entropy, response_mask, rho, rule=rule, scope=scope, invert=invert, group=group)


def _at_random(entropy, response_mask, rho, *, rule, scope, invert, group, seed):
    if seed is None:
        raise ValueError("selection random needs a seed (train.mask.selection_seed(run seed, step, call))")
    return random_mask(response_mask.to(entropy.device), rho, seed=seed, scope=scope, group=group)


# selection name -> fn(entropy, response_mask, rho, *, rule, scope, invert, group, seed) -> (mask, stats).
# clip-cov and kl-cov (train.loss.COV_SELECTIONS) act inside the loss, within the top-ρ tokens by entropy
# (every valid token at ρ = 1, their papers' setting).
SELECTIONS = {"entropy": _by_entropy, "random": _at_random, "clip-cov": _by_entropy, "kl-cov": _by_entropy}
