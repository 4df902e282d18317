"""train.loss, train.advantage, train.presets: the surrogate, its normalisers, and ρ reaching the loss."""

import pytest
import torch

from train.advantage import group_advantages, informative_groups
from train.entropy import fused_logprobs_and_entropy, naive_logprobs_and_entropy
from train.loss import policy_loss
from train.presets import PRESETS, get_preset


def test_clipped_surrogate_by_hand():
    # One sequence, five tokens, each in a different region of the DAPO objective.
    ratio = torch.tensor([[1.0, 1.5, 0.5, 0.5, 20.0]])
    adv = torch.tensor([[1.0, 1.0, 1.0, -1.0, -1.0]])
    old = torch.zeros(1, 5)
    valid = torch.ones(1, 5, dtype=torch.bool)
    loss, m = policy_loss(ratio.log(), old, adv, valid, normalizer="all")
    # -A r | clip-high 1.28 | A>0, r<1: unclipped 0.5 | A<0, r<0.8: clipped to 0.8 | dual clip c = 10
    expected = torch.tensor([-1.0, -1.28, -0.5, 0.8, 10.0])
    assert loss.item() == pytest.approx(float(expected.mean()), abs=1e-6)
    assert m["clip_frac_high"] == pytest.approx(1 / 5)
    assert m["clip_frac_low"] == pytest.approx(1 / 5)
    assert m["clip_frac_dual"] == pytest.approx(1 / 5)
    no_dual, _ = policy_loss(ratio.log(), old, adv, valid, normalizer="all", dual_clip=None)
    assert no_dual.item() == pytest.approx(float(expected[:4].sum() + 20.0) / 5, abs=1e-5)


def test_gradients_of_the_surrogate():
    lp = torch.tensor([[0.0, 0.5, -0.5]], requires_grad=True)
    old = torch.zeros(1, 3)
    policy_loss(lp, old, torch.tensor([1.0]), torch.ones(1, 3), normalizer="all")[0].backward()
    # d(-A r)/d logprob = -A r where unclipped; r = e^0.5 > 1.28 is clipped: zero.
    torch.testing.assert_close(lp.grad, torch.tensor([[-1.0, 0.0, -torch.exp(torch.tensor(-0.5))]]) / 3)


def test_normalisers():
    g = torch.Generator().manual_seed(0)
    lp, old = torch.randn(3, 8, generator=g) * 0.01, torch.randn(3, 8, generator=g) * 0.01
    adv = torch.randn(3, generator=g)
    valid = torch.arange(8)[None, :] < torch.tensor([[8], [5], [2]])
    sel = valid & (torch.rand(3, 8, generator=g) < 0.4)
    sel[0, 0] = True
    loss_sel, m = policy_loss(lp, old, adv, valid, token_mask=sel, normalizer="selected")
    loss_all, _ = policy_loss(lp, old, adv, valid, token_mask=sel, normalizer="all")
    loss_seq, _ = policy_loss(lp, old, adv, valid, token_mask=sel, normalizer="sequence")
    tok = -adv[:, None] * torch.exp(lp - old) * sel  # no clip active at these small ratios
    assert loss_sel.item() == pytest.approx(float(tok.sum() / sel.sum()), abs=1e-6)
    assert loss_all.item() == pytest.approx(float(tok.sum() / valid.sum()), abs=1e-6)
    assert loss_seq.item() == pytest.approx(float((tok.sum(1) / valid.sum(1)).mean()), abs=1e-6)
    # The ~1/ρ scale between the authors' code and the paper's formula.
    assert loss_sel.item() / loss_all.item() == pytest.approx(float(valid.sum() / sel.sum()), rel=1e-5)
    assert m["selected_fraction"] == pytest.approx(float(sel.sum() / valid.sum()))
    with pytest.raises(ValueError):
        policy_loss(lp, old, adv, valid, normalizer="token")


def test_per_token_advantages_and_kl():
    g = torch.Generator().manual_seed(1)
    lp = (torch.randn(2, 6, generator=g) * 0.1).requires_grad_()
    old = lp.detach().clone()
    valid = torch.ones(2, 6, dtype=torch.bool)
    sel = torch.zeros(2, 6, dtype=torch.bool)
    sel[:, :2] = True
    adv_seq = torch.tensor([0.5, -1.0])
    a, _ = policy_loss(lp, old, adv_seq, valid, token_mask=sel)
    b, _ = policy_loss(lp, old, adv_seq[:, None].expand(2, 6), valid, token_mask=sel)
    assert a.item() == pytest.approx(b.item())
    # KL to the reference covers every valid token, so unselected tokens now get gradient.
    loss, m = policy_loss(lp, old, adv_seq, valid, token_mask=sel, ref_logprobs=old - 0.3, kl_coef=0.1)
    assert m["ref_kl"] > 0
    loss.backward()
    assert (lp.grad[:, 2:] != 0).all()
    _, m = policy_loss(lp, old, adv_seq, valid, ref_logprobs=lp.detach(), kl_coef=0.1)
    assert m["ref_kl"] == 0.0 and m["approx_kl"] == 0.0


def test_garbage_on_padding_never_reaches_loss_or_gradient():
    lp = torch.tensor([[-0.5, -1.0, 200.0, -300.0]], requires_grad=True)  # last two are padding
    old = torch.tensor([[-0.6, -1.0, -200.0, 100.0]])
    valid = torch.tensor([[1, 1, 0, 0]])
    loss, _ = policy_loss(lp, old, torch.tensor([-1.0]), valid, normalizer="all", ref_logprobs=old, kl_coef=0.1)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(lp.grad).all()
    assert (lp.grad[0, 2:] == 0).all() and (lp.grad[0, :2] != 0).all()


def test_metrics_entropy_percentiles():
    ent = torch.arange(100.0).reshape(4, 25)
    valid = torch.ones(4, 25, dtype=torch.bool)
    _, m = policy_loss(torch.zeros(4, 25), torch.zeros(4, 25), torch.ones(4), valid, entropy=ent)
    assert m["entropy_p50"] == pytest.approx(50, abs=1) and m["entropy_p80"] == pytest.approx(79, abs=1)
    assert m["clip_frac_low"] == m["clip_frac_high"] == 0.0


def test_group_advantages():
    r = torch.tensor([1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0])
    a = group_advantages(r, 4)
    assert a[:4].sum().abs() < 1e-6 and (a[4:] == 0).all()  # all-equal group: zero, not NaN
    torch.testing.assert_close(a[:4], (r[:4] - r[:4].mean()) / (r[:4].std() + 1e-6))
    torch.testing.assert_close(group_advantages(r, 4, normalize_std=False)[:4], r[:4] + 0.5)
    assert informative_groups(r, 4).tolist() == [True, False]


# -----------------------------------------------------------------------------
# ρ must reach the loss (the authors' release once set it where the loss never looked).


# clip-cov / kl-cov change which selected tokens get gradient, gspo's ε = 3e-4 clips whole sequences at these
# ratios: tests/test_train_baselines.py covers them.
@pytest.mark.parametrize(
    "name", sorted(n for n, p in PRESETS.items() if p.selection in ("entropy", "random") and p.objective != "gspo")
)
@pytest.mark.parametrize("rho", [0.2, 0.5])
def test_configured_rho_reaches_the_loss(name, rho):
    g = torch.Generator().manual_seed(2)
    B, T = 4, 50
    entropy = torch.rand(B, T, generator=g)
    valid = torch.arange(T)[None, :] < torch.tensor([[50], [40], [30], [20]])
    lp = (torch.randn(B, T, generator=g) * 0.05).requires_grad_()
    old = lp.detach() + torch.randn(B, T, generator=g) * 0.05
    base = PRESETS[name].rho
    preset = get_preset(name, rho=rho, max_response_tokens=T)
    assert preset.rho == rho and PRESETS[name].rho == base  # overrides never mutate the preset
    loss, m = preset.loss(lp, old, torch.tensor([1.0, -0.5, 0.7, -1.2]), valid, entropy, seed=5)
    loss.backward()
    selected = lp.grad != 0
    n = int(valid.sum())
    assert not (selected & ~valid).any()
    assert m["selected_fraction"] == pytest.approx(selected.sum().item() / n)
    assert abs(m["selected_fraction"] - rho) <= 1 / n  # ceil for top-k; ties are measure-zero here
    assert (lp.grad[valid & ~selected] == 0).all()  # exactly zero, not small
    if preset.selection == "entropy":  # the selected tokens are the high-entropy ones
        assert entropy[selected].min() >= entropy[valid & ~selected].max()
    else:  # the random control: the same count, drawn by the seed
        assert torch.equal(selected, preset.mask(entropy, valid, seed=5)[0])


def test_presets_side_by_side():
    code, formula = PRESETS["paper-code"], PRESETS["paper-formula"]
    assert (code.rule, code.scope, code.normalizer) == ("topk", "micro", "selected")
    assert (formula.rule, formula.scope, formula.normalizer) == ("quantile", "global", "all")
    for p in (code, formula):
        assert (p.rho, p.clip_low, p.clip_high, p.dual_clip, p.kl_coef) == (0.2, 0.2, 0.28, 10.0, 0.0)
    with pytest.raises(KeyError):
        get_preset("paper")
    rnd = PRESETS["random"]
    assert (rnd.selection, rnd.rule, rnd.scope, rnd.normalizer) == ("random", "topk", "micro", "selected")
    assert (rnd.rho, rnd.clip_low, rnd.clip_high, rnd.dual_clip, rnd.kl_coef) == (0.2, 0.2, 0.28, 10.0, 0.0)


def test_meaningless_selection_combinations_are_refused():
    with pytest.raises(ValueError, match="invert"):
        get_preset("random", invert=True)
    with pytest.raises(ValueError, match="rule topk"):
        get_preset("paper-formula", selection="random")
    with pytest.raises(ValueError, match="selection must be one of"):
        get_preset("paper-code", selection="loud")
    assert get_preset("paper-formula", selection="random", rule="topk").scope == "global"


def test_end_to_end_fused_masked_matches_naive_autograd():
    """hidden -> fused log-probs/entropy -> mask -> loss -> backward, against plain autograd."""
    g = torch.Generator().manual_seed(3)
    B, T, H, V = 3, 16, 12, 211
    hidden = torch.randn(B, T, H, generator=g)
    weight = torch.randn(V, H, generator=g) * 0.5
    labels = torch.randint(0, V, (B, T), generator=g)
    valid = torch.arange(T)[None, :] < torch.tensor([[16], [9], [4]])
    adv = torch.tensor([1.0, -0.7, 0.3])
    preset = get_preset("paper-code", temperature=0.9)

    h1, w1 = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    lp_n, ent_n = naive_logprobs_and_entropy(h1 @ w1.T, labels, temperature=0.9)
    old = lp_n.detach() + 0.01
    loss_n, m_n = preset.loss(lp_n, old, adv, valid, ent_n)
    loss_n.backward()

    h2, w2 = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    with torch.no_grad():
        _, ent = fused_logprobs_and_entropy(h2, w2, labels, temperature=0.9)
    mask, _ = preset.mask(ent, valid)
    lp, ent = fused_logprobs_and_entropy(h2, w2, labels, temperature=0.9, mask=mask, chunk_elements=4 * V)
    loss, m = preset.loss(lp, old, adv, valid, ent)
    loss.backward()
    assert loss.item() == pytest.approx(loss_n.item(), abs=1e-5)
    assert m["num_selected"] == m_n["num_selected"] == 6  # ceil(0.2 * 29)
    torch.testing.assert_close(h2.grad, h1.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(w2.grad, w1.grad, atol=1e-5, rtol=1e-4)
    assert (h2.grad[~mask] == 0).all()
