"""The baseline objectives, selections and normalisers against float64 references written here from the formulas
(not from train.loss).

clip-cov / kl-cov (Cui et al., arXiv 2505.22617), gspo (arXiv 2507.18071), cispo (arXiv 2506.13585),
Dr.GRPO (arXiv 2503.20783), the entropy bonus, and the presets / combinations that reach them.
"""

import math

import pytest
import torch

from train.advantage import group_advantages
from train.loss import policy_loss
from train.presets import PRESETS, get_preset

B, T = 4, 40


def inputs(seed=0, spread=0.3):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([40, 31, 17, 8])
    valid = torch.arange(T)[None, :] < lengths[:, None]
    lp = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    old = lp + torch.randn(B, T, generator=g, dtype=torch.float64) * spread
    lp[~valid], old[~valid] = 50.0, -70.0  # garbage on padding: must never matter
    adv = torch.tensor([1.0, -0.5, 0.8, -1.3], dtype=torch.float64)
    return lp, old, adv, valid


def run(lp, old, adv, valid, **kw):
    x = lp.float().clone().requires_grad_()
    loss, m = policy_loss(x, old.float(), adv.float(), valid, **kw)
    loss.backward()
    return loss.item(), x.grad.double(), m


def cov64(lp, adv, sel):
    a = adv[:, None].expand(lp.shape)[sel]
    lps = lp[sel]
    c = torch.zeros(lp.shape, dtype=torch.float64)
    c[sel] = (a - a.mean()) * (lps - lps.mean())
    return c


def dapo64(r, a, lo=0.2, hi=0.28):
    return torch.maximum(-a * r, -a * r.clamp(1 - lo, 1 + hi))


# ----------------------------------------------------------------------------- clip-cov


def test_clip_cov_zeroes_only_band_tokens_and_matches_the_reference():
    lp, old, adv, valid = inputs(seed=1)
    adv = adv * 6  # cov in the band (1, 5) for a good number of tokens
    ratio = 0.05  # max(1, floor(0.05 N)) tokens: several, so the test sees them
    loss, grad, m = run(lp, old, adv, valid, cov="clip-cov", cov_ratio=ratio, seed=3, dual_clip=None, normalizer="all")
    n = int(valid.sum())
    r = torch.exp(lp - old)
    a = adv[:, None].expand(lp.shape)
    cov = cov64(lp, adv, valid)
    clipped = (-a * r.clamp(0.8, 1.28)) > (-a * r)
    band = valid & (cov > 1) & (cov < 5) & ~clipped
    k = max(1, math.floor(ratio * n))
    assert int(band.sum()) > k  # the random choice is a real choice here
    zeroed = valid & (grad == 0) & ~clipped  # clipped tokens have zero gradient by the clip itself
    assert int(zeroed.sum()) == k == m["num_cov"] and m["cov_fraction"] == pytest.approx(k / n)
    assert not (zeroed & ~band).any()  # all of them in the candidate band
    per_tok = torch.where(valid & ~zeroed, dapo64(r, a), 0.0)
    assert loss == pytest.approx(float(per_tok.sum() / n), abs=1e-5)
    # Others keep the surrogate's gradient: -A r where unclipped.
    keep = valid & ~zeroed & ~clipped
    torch.testing.assert_close(grad[keep], (-a * r / n)[keep], atol=1e-6, rtol=1e-4)
    # Same seed, same tokens; another seed, (almost surely) others.
    assert torch.equal(
        run(lp, old, adv, valid, cov="clip-cov", cov_ratio=ratio, seed=3, dual_clip=None)[1] == 0, grad == 0
    )
    assert not torch.equal(
        run(lp, old, adv, valid, cov="clip-cov", cov_ratio=ratio, seed=4, dual_clip=None)[1] == 0, grad == 0
    )


def test_clip_cov_default_ratio_picks_one_and_needs_a_seed():
    lp, old, adv, valid = inputs(seed=2)
    _, _, m = run(lp, old, adv * 6, valid, cov="clip-cov", seed=0)
    assert m["num_cov"] == 1  # max(1, floor(2e-4 * 96))
    with pytest.raises(ValueError, match="seed"):
        run(lp, old, adv, valid, cov="clip-cov")


# ----------------------------------------------------------------------------- kl-cov


def test_kl_cov_penalises_only_the_top_cov_tokens():
    lp, old, adv, valid = inputs(seed=3)
    ratio, c = 0.05, 0.7
    loss, grad, m = run(lp, old, adv, valid, cov="kl-cov", cov_ratio=ratio, kl_cov_coef=c, normalizer="all")
    n = int(valid.sum())
    k = max(1, math.floor(ratio * n))
    r = torch.exp(lp - old)
    a = adv[:, None].expand(lp.shape)
    cov = cov64(lp, adv, valid)
    top = torch.zeros(B * T, dtype=torch.bool)
    top[torch.where(valid, cov, -math.inf).flatten().topk(k).indices] = True
    top = top.view(B, T)
    ref = torch.where(valid, -a * r, 0.0) + torch.where(top, c * (lp - old).abs(), 0.0)
    assert loss == pytest.approx(float(ref.sum() / n), abs=1e-5)
    assert m["num_cov"] == k
    # Unclipped everywhere: d/dlp (-A r) = -A r; + c sign(log r) on the top-cov tokens only.
    expect = torch.where(valid, -a * r + torch.where(top, c * torch.sign(lp - old), 0.0), 0.0) / n
    torch.testing.assert_close(grad, expect, atol=1e-6, rtol=1e-4)


def test_kl_cov_is_all_tokens_when_the_policy_is_the_sampler():
    # On-policy (one optimizer step per rollout batch) lp == old: r = 1, |log r| = 0 with zero gradient, and the
    # clipped and unclipped surrogates agree, so kl-cov's loss and gradient are all-tokens' exactly. TrainConfig
    # .inert() says so before such a run. Off-policy they differ.
    lp, _, adv, valid = inputs(seed=5)
    on = {}
    for name in ("all-tokens", "kl-cov"):
        kw = dict(cov="kl-cov", cov_ratio=0.05, kl_cov_coef=1.0) if name == "kl-cov" else {}
        on[name] = run(lp, lp.clone(), adv, valid, **kw)
    assert on["kl-cov"][0] == on["all-tokens"][0] and torch.equal(on["kl-cov"][1], on["all-tokens"][1])
    _, old, _, _ = inputs(seed=5)
    off_all = run(lp, old, adv, valid)[1]
    off_kl = run(lp, old, adv, valid, cov="kl-cov", cov_ratio=0.05, kl_cov_coef=1.0)[1]
    assert not torch.allclose(off_all, off_kl)


def test_config_says_when_kl_cov_cannot_act(tmp_path):
    from train.config import TrainConfig

    def notes(**kw):
        return TrainConfig(model=str(tmp_path), prompts_per_step=8, **kw).inert()

    (line,) = notes(preset="kl-cov", mini_batch_prompts=8)
    assert "kl-cov cannot act" in line and "mini_batch_prompts 8 >= prompts_per_step 8" in line
    assert notes(preset="kl-cov", mini_batch_prompts=4) == []  # the second mini-batch is off-policy
    assert notes(preset="paper-code", selection="kl-cov", mini_batch_prompts=8) != []  # the resolved selection
    assert notes(preset="clip-cov", mini_batch_prompts=8) == []  # clip-cov drops tokens' gradient: it acts
    assert notes(preset="paper-code", mini_batch_prompts=8) == []


def test_cov_selections_act_within_the_entropy_mask():
    lp, old, adv, valid = inputs(seed=4)
    g = torch.Generator().manual_seed(0)
    entropy = torch.rand(B, T, generator=g)
    preset = get_preset("kl-cov", rho=0.2, cov_ratio=0.1)
    x = lp.float().clone().requires_grad_()
    loss, mask, _, m = preset.masked_loss(x, old.float(), adv.float(), valid, entropy, seed=1)
    loss.backward()
    assert (x.grad[valid & ~mask] == 0).all() and m["num_cov"] == max(1, math.floor(0.1 * int(mask.sum())))
    cov = cov64(lp, adv, mask)
    top = torch.where(mask, cov, -math.inf).flatten().topk(m["num_cov"]).indices
    assert mask.flatten()[top].all()


# ----------------------------------------------------------------------------- gspo


def gspo64(lp, old, adv, valid, sel, lo, hi):
    """Loss and d loss / d lp from the formula: s_i = exp(mean log r over valid), token loss
    max(-A s, -A clip(s)), per-sequence mean over valid tokens, mean over sequences; the gradient of a
    selected token is (1/|y_i|)(1/B)(-A_i s_i) where the clip is not active, else 0."""
    n_i = valid.sum(-1).double()
    s = torch.exp(torch.where(valid, lp - old, 0.0).sum(-1) / n_i)
    tok = torch.maximum(-adv * s, -adv * s.clamp(1 - lo, 1 + hi))  # [B]
    loss = (tok[:, None] * sel).sum(-1) / n_i
    active = (-adv * s.clamp(1 - lo, 1 + hi)) > (-adv * s)
    g = torch.where(active, 0.0, -adv * s) / n_i / lp.shape[0]
    return float(loss.mean()), torch.where(sel, g[:, None].expand(lp.shape), 0.0)


@pytest.mark.parametrize("spread", [1e-4, 0.3])  # 1e-4: most sequences inside the clip; 0.3: most clipped
def test_gspo_matches_the_reference(spread):
    lp, old, adv, valid = inputs(seed=5, spread=spread)
    loss, grad, _ = run(
        lp, old, adv, valid, objective="gspo", clip_low=3e-4, clip_high=4e-4, dual_clip=None, normalizer="sequence"
    )
    ref, ref_grad = gspo64(lp, old, adv, valid, valid, 3e-4, 4e-4)
    assert loss == pytest.approx(ref, abs=1e-5)
    torch.testing.assert_close(grad, ref_grad, atol=1e-6, rtol=1e-4)


def test_gspo_with_a_mask_keeps_the_sequence_ratio_over_all_valid_tokens():
    lp, old, adv, valid = inputs(seed=6, spread=1e-4)
    sel = valid & (torch.rand(B, T, generator=torch.Generator().manual_seed(1)) < 0.3)
    x = lp.float().clone().requires_grad_()
    loss, _ = policy_loss(
        x,
        old.float(),
        adv.float(),
        valid,
        token_mask=sel,
        objective="gspo",
        clip_low=3e-4,
        clip_high=4e-4,
        dual_clip=None,
        normalizer="sequence",
    )
    loss.backward()
    ref, ref_grad = gspo64(lp, old, adv, valid, sel, 3e-4, 4e-4)
    assert loss.item() == pytest.approx(ref, abs=1e-5)
    torch.testing.assert_close(x.grad.double(), ref_grad, atol=1e-6, rtol=1e-4)
    assert (x.grad[valid & ~sel] == 0).all()


def test_gspo_equals_token_clipping_when_a_sequence_has_one_ratio():
    lp, _, adv, valid = inputs(seed=7)
    shift = torch.tensor([0.1, -0.0002, 0.00015, -0.4], dtype=torch.float64)[:, None]
    old = lp - shift  # every token of sequence i has log r = shift_i
    kw = dict(clip_low=3e-4, clip_high=4e-4, dual_clip=None, normalizer="sequence")
    a = run(lp, old, adv, valid, objective="gspo", **kw)
    b = run(lp, old, adv, valid, objective="dapo", **kw)
    assert a[0] == pytest.approx(b[0], abs=1e-6)
    torch.testing.assert_close(a[1], b[1], atol=1e-7, rtol=1e-4)


# ----------------------------------------------------------------------------- cispo


def test_cispo_matches_the_reference_and_keeps_clipped_tokens_gradient():
    lp, old, adv, valid = inputs(seed=8)
    loss, grad, _ = run(
        lp, old, adv, valid, objective="cispo", clip_low=1.0, clip_high=0.28, dual_clip=None, normalizer="all"
    )
    n = int(valid.sum())
    w = torch.exp(lp - old).clamp(0.0, 1.28)
    a = adv[:, None].expand(lp.shape)
    assert loss == pytest.approx(float(torch.where(valid, -w * a * lp, 0.0).sum() / n), abs=1e-4)
    torch.testing.assert_close(grad, torch.where(valid, -w * a, 0.0) / n, atol=1e-6, rtol=1e-4)
    clipped = valid & (torch.exp(lp - old) > 1.28)
    assert clipped.any() and (grad[clipped] != 0).all()  # unlike PPO, clipped tokens still learn


# ----------------------------------------------------------------------------- Dr.GRPO


def test_dr_grpo_normaliser_and_advantages():
    lp, old, adv, valid = inputs(seed=9, spread=0.01)
    L = 64
    loss, grad, _ = run(lp, old, adv, valid, normalizer="dr-grpo", max_response_tokens=L)
    per_tok = torch.where(valid, dapo64(torch.exp(lp - old), adv[:, None].expand(lp.shape)), 0.0)
    assert loss == pytest.approx(float(per_tok.sum() / (B * L)), abs=1e-6)
    with pytest.raises(ValueError, match="max_response_tokens"):
        run(lp, old, adv, valid, normalizer="dr-grpo")
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    a = group_advantages(rewards, 4, normalize_std=get_preset("dr-grpo").adv_std_norm)
    torch.testing.assert_close(a, torch.tensor([0.75, -0.25, -0.25, -0.25, 0.25, 0.25, -0.75, 0.25]))


# ----------------------------------------------------------------------------- entropy bonus


@pytest.mark.parametrize("over", ["valid", "selected"])
def test_entropy_bonus(over):
    lp, old, adv, valid = inputs(seed=10)
    sel = valid & (torch.arange(T)[None, :] % 3 == 0)
    ent = torch.rand(B, T, generator=torch.Generator().manual_seed(2)).requires_grad_()
    base, _ = policy_loss(lp.float(), old.float(), adv.float(), valid, token_mask=sel)
    loss, m = policy_loss(
        lp.float(), old.float(), adv.float(), valid, token_mask=sel, entropy=ent, entropy_coef=0.01, entropy_over=over
    )
    where = valid if over == "valid" else sel
    mean_h = float(ent.detach().double()[where].mean())
    assert loss.item() == pytest.approx(base.item() - 0.01 * mean_h, abs=1e-6) and m["entropy_bonus"] == pytest.approx(
        mean_h
    )
    loss.backward()
    torch.testing.assert_close(
        ent.grad.double(), torch.where(where, -0.01 / int(where.sum()), 0.0).double(), atol=1e-9, rtol=1e-6
    )
    with pytest.raises(ValueError, match="carries gradient"):
        policy_loss(lp.float(), old.float(), adv.float(), valid, entropy=ent.detach(), entropy_coef=0.01)


# ----------------------------------------------------------------------------- presets


def test_baseline_presets_and_meaningless_combinations():
    assert {"random", "clip-cov", "kl-cov", "gspo", "cispo", "dr-grpo", "paper-code", "paper-formula"} <= set(PRESETS)
    g = PRESETS["gspo"]
    assert (g.objective, g.clip_low, g.clip_high, g.dual_clip, g.normalizer, g.rho) == (
        "gspo",
        3e-4,
        4e-4,
        None,
        "sequence",
        1.0,
    )
    assert (PRESETS["clip-cov"].cov_ratio, PRESETS["clip-cov"].cov_lb, PRESETS["clip-cov"].cov_ub) == (2e-4, 1.0, 5.0)
    assert PRESETS["kl-cov"].kl_cov_coef == 1.0 and PRESETS["dr-grpo"].adv_std_norm is False
    for bad, word in (
        (dict(name="clip-cov", objective="gspo", dual_clip=None), "objective dapo"),
        (dict(name="gspo", dual_clip=10.0), "dual_clip"),
        (dict(name="dr-grpo", max_response_tokens=0), "max_response_tokens"),
        (dict(name="paper-code", entropy_over="all"), "entropy_over"),
        (dict(name="kl-cov", cov_lb=5.0, cov_ub=1.0), "cov_lb"),
    ):
        with pytest.raises(ValueError, match=word):
            get_preset(bad.pop("name"), **bad)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_runs_and_reports_what_reached_the_loss(name):
    lp, old, adv, valid = inputs(seed=11)
    entropy = torch.rand(B, T, generator=torch.Generator().manual_seed(3))
    preset = get_preset(name, max_response_tokens=64)
    x = lp.float().clone().requires_grad_()
    loss, mask, stats, m = preset.masked_loss(x, old.float(), adv.float(), valid, entropy, seed=5)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and (x.grad[~valid] == 0).all()
    assert m["rho"] == preset.rho and m["selected_fraction"] == pytest.approx(int(mask.sum()) / int(valid.sum()))
    if preset.selection in ("clip-cov", "kl-cov"):
        assert m["num_cov"] >= 1
