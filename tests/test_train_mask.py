"""train.mask: exact counts, ties per rule, padding, ρ = 1, invert, and global scope across 2 processes."""

import math
import os
import tempfile

import pytest
import torch
import torch.multiprocessing as mp

from tests.two_ranks import free_port
from train.mask import SELECTIONS, num_selected, random_mask, selection_seed, top_entropy_mask


def batch(b=4, t=25, seed=0, pad_value=100.0):
    g = torch.Generator().manual_seed(seed)
    entropy = torch.rand(b, t, generator=g) * 3
    lengths = torch.randint(3, t + 1, (b,), generator=g)
    valid = torch.arange(t)[None, :] < lengths[:, None]
    entropy[~valid] = pad_value  # huge entropy on padding: must never be selected
    return entropy, valid


def test_num_selected_is_ceil_without_float_noise():
    assert num_selected(0.7, 10) == 7  # 0.7 * 10 == 7.000000000000001
    assert num_selected(0.2, 11) == 3 and num_selected(0.2, 10) == 2 and num_selected(0.2, 1) == 1
    assert num_selected(1.0, 5) == 5


@pytest.mark.parametrize("rho", [0.1, 0.2, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("invert", [False, True])
def test_topk_exact_count_and_order(rho, invert):
    entropy, valid = batch()
    mask, stats = top_entropy_mask(entropy, valid, rho, invert=invert)
    n = int(valid.sum())
    assert mask.dtype == torch.bool and mask.shape == entropy.shape
    assert int(mask.sum()) == math.ceil(round(rho * n, 6)) == stats["num_selected"]
    assert not (mask & ~valid).any()  # padding never competes
    chosen, rest = entropy[mask], entropy[valid & ~mask]
    if invert:
        assert chosen.max() <= rest.min()
    else:
        assert chosen.min() >= rest.max()
        assert stats["threshold"] == pytest.approx(float(chosen.min()))
    assert stats["selected_fraction"] == pytest.approx(int(mask.sum()) / n)


def test_quantile_rule_matches_torch_quantile():
    entropy, valid = batch(seed=1)
    for rho in (0.2, 0.35, 0.5):
        mask, stats = top_entropy_mask(entropy, valid, rho, rule="quantile")
        q = torch.quantile(entropy[valid], 1 - rho)
        assert stats["threshold"] == pytest.approx(float(q), abs=1e-6)
        assert torch.equal(mask, valid & (entropy >= q))
        inv, _ = top_entropy_mask(entropy, valid, rho, rule="quantile", invert=True)
        assert torch.equal(inv, valid & (entropy <= torch.quantile(entropy[valid], rho)))


def test_ties_exact_for_topk_all_kept_for_quantile():
    # Most tokens of a chain of thought have entropy ~0: ties are the normal case, not an edge case.
    entropy = torch.tensor([[0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0]])
    valid = torch.ones_like(entropy, dtype=torch.bool)
    topk, s = top_entropy_mask(entropy, valid, 0.3)
    assert int(topk.sum()) == 3 and topk[0, :6].tolist() == [False, False, True, True, True, False]
    assert s["threshold"] == 0.5
    quant, _ = top_entropy_mask(entropy, valid, 0.3, rule="quantile")
    assert int(quant.sum()) == 4  # every token at the threshold is kept
    flat = torch.zeros(1, 10)
    assert int(top_entropy_mask(flat, valid, 0.2)[0].sum()) == 2
    assert int(top_entropy_mask(flat, valid, 0.2, rule="quantile")[0].sum()) == 10


@pytest.mark.parametrize("rule", ["topk", "quantile"])
@pytest.mark.parametrize("scope", ["micro", "global", "local"])
def test_rho_one_is_the_response_mask(rule, scope):
    entropy, valid = batch(seed=2)
    for response_mask in (valid, valid.long(), valid.float()):
        mask, stats = top_entropy_mask(entropy, response_mask, 1.0, rule=rule, scope=scope)
        assert torch.equal(mask, valid) and stats["selected_fraction"] == 1.0


def test_integer_response_mask_is_not_used_as_an_index():
    entropy, valid = batch(seed=3)
    a, _ = top_entropy_mask(entropy, valid, 0.2)
    b, _ = top_entropy_mask(entropy, valid.to(torch.int64), 0.2)
    assert torch.equal(a, b)


def test_local_scope_selects_per_sequence():
    entropy, valid = batch(seed=4)
    mask, _ = top_entropy_mask(entropy, valid, 0.3, scope="local")
    for b in range(entropy.shape[0]):
        n = int(valid[b].sum())
        assert int(mask[b].sum()) == num_selected(0.3, n)
        assert entropy[b][mask[b]].min() >= entropy[b][valid[b] & ~mask[b]].max()


def test_flat_inputs_and_bad_arguments():
    entropy, valid = batch(seed=5)
    flat, _ = top_entropy_mask(entropy.flatten(), valid.flatten(), 0.2)
    assert torch.equal(flat, top_entropy_mask(entropy, valid, 0.2)[0].flatten())
    for rho in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            top_entropy_mask(entropy, valid, rho)
    with pytest.raises(ValueError):
        top_entropy_mask(entropy, valid, 0.2, rule="median")


def test_more_than_2_to_the_24_tokens():
    n = (1 << 24) + 1000  # torch.quantile raises on this many
    entropy = torch.rand(n, generator=torch.Generator().manual_seed(0))
    valid = torch.ones(n, dtype=torch.bool)
    mask, _ = top_entropy_mask(entropy, valid, 0.2)
    assert int(mask.sum()) == num_selected(0.2, n)
    mask, stats = top_entropy_mask(entropy, valid, 0.2, rule="quantile")
    assert abs(stats["selected_fraction"] - 0.2) < 1e-6


# -----------------------------------------------------------------------------
# The random control: ceil(ρN) tokens, not chosen by entropy.


def _ranks(x):
    return x.argsort().argsort().double()


def _spearman(a, chosen):
    """Spearman's rho of values `a` (distinct) and a 0/1 indicator: with ties given their mean rank, the
    indicator's ranks are an affine map of it, so it is the Pearson correlation of rank(a) and the indicator."""
    ra, rb = _ranks(a), chosen.double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


@pytest.mark.parametrize("rho", [0.1, 0.2, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("scope", ["micro", "global", "local"])
def test_random_exact_count_and_padding_never_selected(rho, scope):
    entropy, valid = batch(seed=6)
    for s in range(20):
        mask, stats = random_mask(valid, rho, seed=s, scope=scope)
        assert mask.dtype == torch.bool and mask.shape == valid.shape
        assert not (mask & ~valid).any()
        if scope == "local":
            assert mask.sum(-1).tolist() == [num_selected(rho, int(n)) for n in valid.sum(-1)]
        else:
            assert int(mask.sum()) == num_selected(rho, int(valid.sum())) == stats["num_selected"]
        assert stats["num_valid"] == int(valid.sum()) and math.isnan(stats["threshold"])


def test_random_is_uncorrelated_with_entropy_and_uniform():
    entropy, valid = batch(b=4, t=30, seed=7)
    ent = entropy[valid]
    corr, counts = [], torch.zeros(ent.numel(), dtype=torch.float64)
    draws = 600
    for s in range(draws):
        mask, _ = random_mask(valid, 0.2, seed=selection_seed(0, s))
        corr.append(_spearman(ent, mask[valid]))
        counts += mask[valid]
    assert abs(sum(corr) / draws) < 0.02  # per-draw sd ~ 0.13, mean of 600 ~ 0.005
    top, _ = top_entropy_mask(entropy, valid, 0.2)
    assert _spearman(ent, top[valid]) > 0.6  # what the test would see for the entropy mask
    # Each valid token is chosen with probability k/N (binomial sd over 600 draws ~ 0.016).
    p = counts / draws
    k = num_selected(0.2, ent.numel())
    assert (p - k / ent.numel()).abs().max() < 0.08 and abs(float(p.mean()) - k / ent.numel()) < 1e-9


def test_random_same_seed_same_tokens_next_step_different():
    entropy, valid = batch(seed=8)
    a, _ = random_mask(valid, 0.2, seed=selection_seed(3, 5))
    b, _ = random_mask(valid.long(), 0.2, seed=selection_seed(3, 5))
    assert torch.equal(a, b)
    for other in (selection_seed(3, 6), selection_seed(3, 5, 1), selection_seed(4, 5)):
        assert not torch.equal(a, random_mask(valid, 0.2, seed=other)[0])
    seeds = {selection_seed(0, step, call) for step in range(50) for call in range(20)}
    assert len(seeds) == 1000 and all(0 <= x < 2**63 for x in seeds)


def test_selections_registry_and_random_needs_a_seed():
    entropy, valid = batch(seed=9)
    kw = dict(rule="topk", scope="micro", invert=False, group=None)
    assert torch.equal(
        SELECTIONS["entropy"](entropy, valid, 0.2, seed=None, **kw)[0], top_entropy_mask(entropy, valid, 0.2)[0]
    )
    assert torch.equal(SELECTIONS["random"](entropy, valid, 0.2, seed=11, **kw)[0], random_mask(valid, 0.2, seed=11)[0])
    with pytest.raises(ValueError, match="needs a seed"):
        SELECTIONS["random"](entropy, valid, 0.2, seed=None, **kw)
    with pytest.raises(ValueError):
        random_mask(valid, 0.0, seed=1)


# -----------------------------------------------------------------------------
# Global scope: two real processes (gloo) holding different numbers of tokens.

RANK_SHAPES = [(2, 5), (3, 11)]  # 10 and 33 positions, different valid counts too
SEED = selection_seed(0, 7)


def rank_inputs(rank):
    b, t = RANK_SHAPES[rank]
    entropy, valid = batch(b, t, seed=10 + rank)
    entropy = (entropy * 4).round() / 4  # coarse values: ties across the two ranks
    entropy[~valid] = 100.0
    return entropy, valid


def _worker(rank, world, port, outdir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        entropy, valid = rank_inputs(rank)
        out = {}
        for rule in ("topk", "quantile"):
            for invert in (False, True):
                out[rule, invert] = top_entropy_mask(entropy, valid, 0.2, rule=rule, scope="global", invert=invert)
        # A rank whose micro-batch is all padding still joins the collectives (no hang).
        empty = torch.zeros_like(valid) if rank == 0 else valid
        out["empty"] = top_entropy_mask(entropy, empty, 0.2, scope="global")
        out["random"] = random_mask(valid, 0.2, seed=SEED, scope="global")
        out["random_empty"] = random_mask(empty, 0.2, seed=SEED, scope="global")
        out["random_micro"] = random_mask(valid, 0.2, seed=SEED, scope="micro")
        torch.save(out, os.path.join(outdir, f"rank{rank}.pt"))
    finally:
        torch.distributed.destroy_process_group()


def test_global_scope_two_processes_different_token_counts():
    with tempfile.TemporaryDirectory() as outdir:
        ctx = mp.start_processes(_worker, args=(2, free_port(), outdir), nprocs=2, join=False, start_method="spawn")
        for _ in range(120):  # fail, never hang, if a collective mismatches
            if ctx.join(timeout=1):
                break
        else:
            for p in ctx.processes:
                p.kill()
            pytest.fail("global scope hung")
        results = [torch.load(os.path.join(outdir, f"rank{r}.pt")) for r in range(2)]

    inputs = [rank_inputs(r) for r in range(2)]
    all_ent = torch.cat([e[v] for e, v in inputs])  # what one big micro-batch would see
    n = all_ent.numel()
    empty = [results[r].pop("empty") for r in range(2)]
    check_random_global(
        inputs, [{k: results[r].pop(k) for k in ("random", "random_empty", "random_micro")} for r in range(2)]
    )
    n1 = int(inputs[1][1].sum())
    assert not empty[0][0].any() and int(empty[1][0].sum()) == num_selected(0.2, n1)
    assert empty[0][1]["num_valid"] == empty[1][1]["num_valid"] == n1

    for (rule, invert), _ in results[0].items():
        stats = [results[r][rule, invert][1] for r in range(2)]
        masks = [results[r][rule, invert][0] for r in range(2)]
        chosen = torch.cat([e[m] for (e, _), m in zip(inputs, masks)])
        assert all(not (m & ~v).any() for m, (_, v) in zip(masks, inputs))
        # The same as selecting over the concatenation in one process.
        ref, ref_stats = top_entropy_mask(all_ent, torch.ones(n, dtype=torch.bool), 0.2, rule=rule, invert=invert)
        assert chosen.numel() == int(ref.sum()) == stats[0]["num_selected"] == stats[1]["num_selected"]
        assert torch.equal(torch.cat([m[v] for m, (_, v) in zip(masks, inputs)]), ref)
        assert stats[0]["threshold"] == stats[1]["threshold"] == ref_stats["threshold"]
        assert stats[0]["num_valid"] == n
        if rule == "topk":
            assert chosen.numel() == num_selected(0.2, n)


def check_random_global(inputs, results):
    """scope global at random: ceil(ρN) over both ranks, the same draw as one process over the concatenation."""
    valids = [v for _, v in inputs]
    n = sum(int(v.sum()) for v in valids)
    masks = [r["random"][0] for r in results]
    assert all(not (m & ~v).any() for m, v in zip(masks, valids))
    assert sum(int(m.sum()) for m in masks) == num_selected(0.2, n)
    assert results[0]["random"][1]["num_selected"] == results[1]["random"][1]["num_selected"] == num_selected(0.2, n)
    assert results[0]["random"][1]["num_valid"] == n
    ref, _ = random_mask(torch.ones(n, dtype=torch.bool), 0.2, seed=SEED)
    assert torch.equal(torch.cat([m[v] for m, v in zip(masks, valids)]), ref)
    # rank 0 without tokens: rank 1 gets ceil(ρ n1), no hang.
    n1 = int(valids[1].sum())
    assert not results[0]["random_empty"][0].any() and int(results[1]["random_empty"][0].sum()) == num_selected(0.2, n1)
    # micro scope: each rank its own count, and the rank is in the seed.
    for r in range(2):
        assert int(results[r]["random_micro"][0].sum()) == num_selected(0.2, int(valids[r].sum()))
    assert not torch.equal(results[1]["random_micro"][0], random_mask(valids[1], 0.2, seed=SEED)[0])
