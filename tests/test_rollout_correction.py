"""Rollout correction (train/rollout_correction.py) through the one path to the loss, `Preset.loss`, against float64
references written here from the formulas: TIS weights min(π_old/μ, cap) per token; MIS drops a sequence whose
geometric-mean ratio leaves [low, high]; the mismatch metrics over all valid and over the selected tokens.
The real vLLM side (the sampler's log-probs, a mismatch made by not pushing the weights) is in test_rollout_vllm."""

import math

import pytest
import torch

from train.config import ConfigError, load_config
from train.presets import get_preset

B, T = 4, 30
LENGTHS = [30, 22, 13, 6]
A = [1.0, -0.5, 0.8, -1.3]


def batch():
    g = torch.Generator().manual_seed(0)
    valid = torch.arange(T)[None, :] < torch.tensor(LENGTHS)[:, None]
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    lp = old + torch.randn(B, T, generator=g, dtype=torch.float64) * 0.1  # the policy after some movement
    sampler = old.clone()
    sampler[0] += 0.9  # sequence 0: the sampler gave its tokens much more mass (ratio exp(-0.9), below 0.5)
    sampler[1] += torch.randn(T, generator=g, dtype=torch.float64) * 0.8  # per-token noise: some weights > 2
    sampler[2] -= 0.05  # a small, uniform mismatch (ratio exp(0.05): kept by MIS, no weight capped)
    lp[~valid], old[~valid], sampler[~valid] = 50.0, -70.0, 9.0  # garbage on padding must never matter
    ent = torch.rand(B, T, generator=g, dtype=torch.float64)
    return lp, old, sampler, valid, ent


def run(preset, lp, old, sampler, valid, ent):
    x = lp.float().clone().requires_grad_()
    loss, m = preset.loss(x, old.float(), torch.tensor(A), valid, ent.float(), seed=0, sampler_logprobs=sampler.float())
    loss.backward()
    return loss.item(), x.grad.double(), m


def dapo64(r, a, lo=0.2, hi=0.28, dual=10.0):
    pg = max(-a * r, -a * min(max(r, 1 - lo), 1 + hi))
    return min(pg, -a * dual) if a < 0 else pg


def reference(lp, old, sampler, valid, weight_of, keep_seq=lambda i: True):
    """sum over valid tokens of kept sequences of w_t * dapo_t, divided by their count (normaliser "selected"
    at ρ = 1: every valid token is selected)."""
    total, n = 0.0, 0
    for i in range(B):
        if not keep_seq(i):
            continue
        for t in range(LENGTHS[i]):
            r = math.exp(lp[i, t] - old[i, t])
            total += weight_of(i, t) * dapo64(r, A[i])
            n += 1
    return total / n


def test_tis_weights_each_token_by_the_capped_ratio():
    lp, old, sampler, valid, ent = batch()
    preset = get_preset("paper-code", rho=1.0, rollout_correction="tis")
    loss, grad, m = run(preset, lp, old, sampler, valid, ent)

    def w(i, t):
        return min(math.exp(old[i, t] - sampler[i, t]), 2.0)

    assert loss == pytest.approx(reference(lp, old, sampler, valid, w), rel=1e-5)
    plain, plain_grad, _ = run(get_preset("paper-code", rho=1.0), lp, old, sampler, valid, ent)
    assert loss != pytest.approx(plain, rel=1e-3)  # the correction changed the loss
    ws = torch.tensor([[w(i, t) if t < LENGTHS[i] else 0.0 for t in range(T)] for i in range(B)], dtype=torch.float64)
    assert torch.allclose(grad, plain_grad * ws, rtol=1e-4, atol=1e-7)  # gradient scaled token by token
    capped = sum(math.exp(old[i, t] - sampler[i, t]) > 2.0 for i in range(B) for t in range(LENGTHS[i]))
    assert capped > 0 and m["rc_changed_fraction_all"] == pytest.approx(capped / sum(LENGTHS))
    assert m["rc_weight_max_all"] == pytest.approx(2.0)
    assert m["rc_weight_mean_all"] == pytest.approx(float(ws[valid].mean()), rel=1e-5)


def test_mis_drops_whole_sequences_outside_the_band():
    lp, old, sampler, valid, ent = batch()
    preset = get_preset("paper-code", rho=1.0, rollout_correction="mis")
    loss, grad, m = run(preset, lp, old, sampler, valid, ent)
    g = [math.exp(sum(old[i, t] - sampler[i, t] for t in range(LENGTHS[i])) / LENGTHS[i]) for i in range(B)]
    kept = [0.5 <= x <= 2.0 for x in g]
    assert kept[0] is False and kept[2] is True  # as constructed
    assert loss == pytest.approx(reference(lp, old, sampler, valid, lambda i, t: 1.0, lambda i: kept[i]), rel=1e-5)
    for i in range(B):
        assert (grad[i].abs().sum() == 0) == (not kept[i])  # exactly zero gradient on a dropped sequence
    dropped_tokens = sum(n for n, k in zip(LENGTHS, kept) if not k)
    assert m["rc_changed_fraction_all"] == pytest.approx(dropped_tokens / sum(LENGTHS))
    assert m["num_valid"] == sum(n for n, k in zip(LENGTHS, kept) if k)  # dropped tokens leave the normaliser


def test_mismatch_metrics_over_all_and_selected_tokens():
    lp, old, sampler, valid, ent = batch()
    preset = get_preset("paper-code", rho=0.2)  # no correction: the mismatch is still measured
    x = lp.float()
    _, token_mask, _, m = preset.masked_loss(
        x, old.float(), torch.tensor(A), valid, ent.float(), seed=0, sampler_logprobs=sampler.float()
    )
    for over, mask in (("all", valid), ("selected", valid & token_mask)):
        d = [(old[i, t] - sampler[i, t]).item() for i in range(B) for t in range(T) if mask[i, t]]
        assert m[f"mismatch_abs_logp_{over}"] == pytest.approx(sum(map(abs, d)) / len(d), rel=1e-5)
        k3 = [math.exp(x) - 1 - x for x in d]
        assert m[f"mismatch_k3_{over}"] == pytest.approx(sum(k3) / len(k3), rel=1e-4)
    assert "rc_weight_mean_all" not in m  # weights only when a correction is on
    same = preset.masked_loss(x, old.float(), torch.tensor(A), valid, ent.float(), seed=0, sampler_logprobs=old.float())
    assert same[3]["mismatch_abs_logp_all"] == 0.0 and same[3]["mismatch_k3_selected"] == 0.0


def test_correction_without_sampler_logprobs_and_bad_settings_are_refused(tmp_path):
    lp, old, _, valid, ent = batch()
    with pytest.raises(ValueError, match="sampler"):
        get_preset("paper-code", rollout_correction="tis").loss(lp, old, torch.tensor(A), valid, ent)
    with pytest.raises(ValueError, match="rollout_correction"):
        get_preset("paper-code", rollout_correction="is")
    with pytest.raises(ValueError, match="mis_low"):
        get_preset("paper-code", rollout_correction="mis", mis_low=1.5)
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="needs backend vllm"):
        load_config(None, {"model": str(model), "rollout_correction": "tis"}).check()
