"""Peers' own code as oracles: the same tiny model, batch and seed through TRL's `GRPOTrainer` (its own
`top_entropy_quantile`, no subclass) and through our `EntropyMaskedGRPOTrainer` with the `paper-formula` preset,
on one process and on two gloo ranks; and verl's own vanilla policy loss and `agg_loss` against our verl plug-in
at ρ = 1.

What is compared is recorded from the real trainers without changing them: instance attributes wrap the methods
that compute entropies, the mask and the loss (each calls the original and keeps a copy of what it returns), a
`TrainerCallback` copies the parameter gradients just before the optimizer step (clipping off, so they are raw).
Where the two differ by design (the normaliser under gradient accumulation or across ranks with unequal token
counts; see docs/DESIGN.md, "Peers as oracles"), the test pins the difference as an exact relation.

Run as a script (`accelerate launch ... tests/test_peer_oracles.py OUT`), this file is the two-rank worker.
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import pytest
import torch

from tests.two_ranks import accelerate_launch

PROMPTS = {"prompt": ["1+2=", "3*4=", "9-5=", "7+7="], "answer": ["3", "12", "4", "14"]}
LENGTH = 16


def sevens(completions, **kwargs):
    """A plain TRL reward function (its signature, no grading): the share of 7s, so advantages are non-zero
    even when every completion has the same length."""
    return [c.count("7") / max(len(c), 1) for c in completions]


class Grads:
    """A TrainerCallback (built lazily: transformers is heavy) keeping the gradients at the optimizer step."""

    def __new__(cls):
        from transformers import TrainerCallback

        class _Grads(TrainerCallback):
            grads: dict | None = None

            def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
                self.grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}

        return _Grads()


def _record(trainer, ours: bool) -> list[dict]:
    """Per loss call: the inputs, entropies, log-probs and their gradient, the token mask, the returned loss."""
    calls: list[dict] = []
    compute, logps = trainer._compute_loss, trainer._get_per_token_logps_and_entropies

    def compute_loss(model, inputs):
        rec = {k: v.detach().clone() for k, v in inputs.items() if torch.is_tensor(v)}
        calls.append(rec)
        loss = compute(model, inputs)
        rec["loss"] = loss.detach().clone()
        return loss

    def logps_and_entropies(*args, **kwargs):
        lp, ent, *rest = logps(*args, **kwargs)
        rec = calls[-1]
        rec["entropies"], rec["logps"] = ent.detach().clone(), lp.detach().clone()
        lp.register_hook(lambda g: rec.__setitem__("logps_grad", g.detach().clone()))
        return (lp, ent, *rest)

    trainer._compute_loss = compute_loss
    trainer._get_per_token_logps_and_entropies = logps_and_entropies
    if ours:
        masked = trainer.entropy_masked_loss

        def entropy_masked_loss(*args, **kwargs):
            out = masked(*args, **kwargs)
            calls[-1]["selected"] = out[1].clone()
            return out

        trainer.entropy_masked_loss = entropy_masked_loss
    else:
        high = trainer.get_high_entropy_mask

        def get_high_entropy_mask(entropies, mask, threshold):
            out = high(entropies, mask, threshold)
            calls[-1]["selected"] = out.clone()
            return out

        trainer.get_high_entropy_mask = get_high_entropy_mask
    return calls


def run_pair(model_dir: Path, out: Path, **over) -> dict:
    """One GRPO step of TRL's own trainer (top_entropy_quantile = ρ) and of ours (paper-formula), same
    model, data, seed and settings: {"trl": (calls, grads), "ours": (calls, grads)}. SGD without clipping, so
    the gradients are the raw loss gradients (averaged over ranks by DDP)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from train.integrations.trl import EntropyMaskedGRPOConfig, EntropyMaskedGRPOTrainer
    from train.presets import get_preset

    preset = get_preset("paper-formula")
    common = dict(
        use_cpu=True,
        report_to="none",
        max_steps=1,
        logging_steps=1,
        save_strategy="no",
        seed=0,
        num_generations=4,
        per_device_train_batch_size=8,
        max_completion_length=LENGTH,
        learning_rate=1e-3,
        optim="sgd",
        max_grad_norm=0.0,
        loss_type="dapo",  # TRL's token-level normaliser: divide by the valid tokens (the paper's formula)
        epsilon=preset.clip_low,
        epsilon_high=preset.clip_high,
        beta=preset.kl_coef,
        temperature=preset.temperature,
    )
    common.update(over)
    data = Dataset.from_dict(PROMPTS)
    out_runs = {}
    for name in ("trl", "ours"):
        if name == "trl":
            args = GRPOConfig(output_dir=str(out / name), top_entropy_quantile=preset.rho, **common)
            trainer = GRPOTrainer(model=str(model_dir), reward_funcs=sevens, args=args, train_dataset=data)
        else:
            args = EntropyMaskedGRPOConfig(
                output_dir=str(out / name),
                entropy_rho=preset.rho,
                entropy_rule=preset.rule,
                entropy_scope=preset.scope,
                loss_normalizer=preset.normalizer,
                entropy_selection=preset.selection,
                loss_objective=preset.objective,
                dual_clip=preset.dual_clip,
                **common,
            )
            trainer = EntropyMaskedGRPOTrainer(model=str(model_dir), reward_funcs=sevens, args=args, train_dataset=data)
        grads = Grads()
        trainer.add_callback(grads)
        calls = _record(trainer, ours=name == "ours")
        trainer.train()
        out_runs[name] = (calls, grads.grads)
    return out_runs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("trl")
    from tests.train_tiny import build

    return build(tmp_path_factory.mktemp("oracle") / "tiny")


def _same_inputs(trl_call, our_call):
    for k in ("completion_ids", "completion_mask", "advantages", "prompt_ids"):
        assert torch.equal(trl_call[k], our_call[k]), k  # the same batch reached both losses
    assert torch.equal(trl_call["entropies"], our_call["entropies"])


def test_trl_one_rank_same_tokens_loss_and_gradients(tiny, tmp_path):
    runs = run_pair(tiny, tmp_path)
    (trl_calls, trl_grads), (our_calls, our_grads) = runs["trl"], runs["ours"]
    assert len(trl_calls) == len(our_calls) == 1
    t, o = trl_calls[0], our_calls[0]
    _same_inputs(t, o)
    valid = t["completion_mask"] != 0
    assert torch.equal(t["selected"], o["selected"])  # the same tokens (ties at the cut kept by both)
    n_sel, n = int(o["selected"].sum()), int(valid.sum())
    assert 0 < n_sel < n and not (o["selected"] & ~valid).any()  # a real selection, never padding
    assert t["advantages"].abs().sum() > 0
    torch.testing.assert_close(o["loss"], t["loss"], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(o["logps_grad"], t["logps_grad"], rtol=1e-6, atol=1e-9)
    assert torch.all(o["logps_grad"][~o["selected"]] == 0) and o["logps_grad"][o["selected"]].abs().sum() > 0
    assert trl_grads.keys() == our_grads.keys() and trl_grads
    for k in trl_grads:
        torch.testing.assert_close(our_grads[k], trl_grads[k], rtol=1e-5, atol=1e-7)
    assert any(g.abs().sum() > 0 for g in our_grads.values())


def test_trl_gradient_accumulation_normaliser_differs_by_design(tiny, tmp_path):
    """Two micro-batches of 4 in one optimizer step. TRL's "dapo" divides each by the valid tokens of the whole
    accumulation window N; ours by the micro-batch's own N_i, then by the 2 accumulation steps (the authors' code
    averages per micro-batch). Same tokens; loss and gradient of micro-batch i differ by exactly 2 N_i / N."""
    runs = run_pair(tiny, tmp_path, per_device_train_batch_size=4, gradient_accumulation_steps=2)
    (trl_calls, _), (our_calls, _) = runs["trl"], runs["ours"]
    assert len(trl_calls) == len(our_calls) == 2
    window = sum(int(c["completion_mask"].sum()) for c in trl_calls)
    counts = []
    for t, o in zip(trl_calls, our_calls):
        _same_inputs(t, o)
        assert torch.equal(t["selected"], o["selected"])
        assert int(t["num_items_in_batch"]) == window
        n_i = int(t["completion_mask"].sum())
        counts.append(n_i)
        factor = 2 * n_i / window
        torch.testing.assert_close(t["loss"], o["loss"] * factor, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(t["logps_grad"], o["logps_grad"] * factor, rtol=1e-5, atol=1e-9)
    assert counts[0] != counts[1]  # unequal micro-batches, or the two normalisers would coincide


# --- two gloo ranks: this file is the worker ---------------------------------------------------------------------


def _worker(model_dir: str, out: str) -> None:
    """Each rank: the pair with free lengths and with every completion at the limit; saves what it recorded."""
    import torch.distributed as dist

    for variant, over in (("free", {}), ("full", {"generation_kwargs": {"min_new_tokens": LENGTH}})):
        runs = run_pair(Path(model_dir), Path(out) / variant, per_device_train_batch_size=4, **over)
        rank = dist.get_rank()
        keep = (
            "completion_ids",
            "completion_mask",
            "entropies",
            "selected",
            "loss",
            "logps_grad",
            "num_items_in_batch",
        )
        torch.save(
            {
                name: {"calls": [{k: c[k] for k in keep} for c in calls], "grads": grads}
                for name, (calls, grads) in runs.items()
            },
            Path(out) / f"{variant}-rank{rank}.pt",
        )


@pytest.fixture(scope="module")
def two_ranks(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("ranks")
    accelerate_launch(__file__, tiny, out, timeout=480, hung="the two-rank TRL oracle hung")
    return {v: [torch.load(out / f"{v}-rank{r}.pt") for r in (0, 1)] for v in ("free", "full")}


@pytest.mark.parametrize("variant", ["full", "free"])
def test_trl_two_gloo_ranks(two_ranks, variant):
    """Both select over all ranks' tokens (TRL gathers, our scope "global" gathers): the same tokens on every
    rank. TRL's "dapo" divides rank r's sum by N / 2 (N: all ranks' valid tokens), ours by the rank's own N_r;
    DDP then averages. With every completion at the length limit N_r = N / 2 and the losses and gradients are
    the same; with free lengths rank r's loss and gradient differ by exactly 2 N_r / N (pinned)."""
    ranks = two_ranks[variant]
    total = sum(int(r["trl"]["calls"][0]["completion_mask"].sum()) for r in ranks)
    counts = []
    for r in ranks:
        (t,), (o,) = r["trl"]["calls"], r["ours"]["calls"]
        for k in ("completion_ids", "completion_mask", "entropies"):
            assert torch.equal(t[k], o[k]), k
        assert torch.equal(t["selected"], o["selected"])
        assert int(t["num_items_in_batch"]) == total
        n_r = int(t["completion_mask"].sum())
        counts.append(n_r)
        factor = 2 * n_r / total
        torch.testing.assert_close(t["loss"], o["loss"] * factor, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(t["logps_grad"], o["logps_grad"] * factor, rtol=1e-5, atol=1e-9)
    selected = sum(int(r["ours"]["calls"][0]["selected"].sum()) for r in ranks)
    assert 0.2 * total <= selected < total  # one global cut: >= ceil(ρN) with ties, never everything
    assert not torch.equal(
        ranks[0]["ours"]["calls"][0]["completion_ids"], ranks[1]["ours"]["calls"][0]["completion_ids"]
    )
    for r in ranks:  # DDP: every rank holds the averaged gradient
        for k in r["trl"]["grads"]:
            torch.testing.assert_close(r["trl"]["grads"][k], ranks[0]["trl"]["grads"][k])
    trl_g, our_g = ranks[0]["trl"]["grads"], ranks[0]["ours"]["grads"]
    if variant == "full":
        assert counts == [4 * LENGTH] * 2  # 4 completions of LENGTH tokens on each rank
        for k in trl_g:
            torch.testing.assert_close(our_g[k], trl_g[k], rtol=1e-5, atol=1e-7)
        assert any(g.abs().sum() > 0 for g in our_g.values())
    else:
        assert counts[0] != counts[1]
        assert any(not torch.allclose(our_g[k], trl_g[k], rtol=1e-4, atol=1e-6) for k in trl_g)


# --- verl: its own vanilla loss and agg_loss against our plug-in at ρ = 1 ----------------------------------------


@pytest.fixture(scope="module")
def verl_config():
    pytest.importorskip("verl.trainer.ppo.core_algos", reason="verl is not installed (see .ci/run)")
    import train.integrations.verl  # noqa: F401 (registers the loss and the ppo_loss hook)
    from tests.test_verl_integration import compose

    @functools.cache  # composing verl's Hydra config takes seconds; the loss never changes it
    def make(ours: bool, agg: str = "token-mean", normalizer: str = "all", base: str = ""):
        from verl.utils.config import omega_conf_to_dataclass

        pl = "actor_rollout_ref.actor.policy_loss"
        over = [
            "actor_rollout_ref.actor.clip_ratio_low=0.2",
            "actor_rollout_ref.actor.clip_ratio_high=0.28",
            "actor_rollout_ref.actor.clip_ratio_c=10.0",
            "actor_rollout_ref.actor.calculate_entropy=True",
            "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2",
            f"actor_rollout_ref.actor.loss_agg_mode={agg}",
        ]
        if ours:
            over += [
                f"{pl}._target_=train.integrations.verl.EntropyMaskedPolicyLossConfig",
                f"{pl}.loss_mode=entropy_masked",
                f"+{pl}.entropy_rho=1.0",
                f"+{pl}.loss_normalizer={normalizer}",
            ] + ([f"+{pl}.entropy_base_loss={base}"] if base else [])
        return omega_conf_to_dataclass(compose(over).actor_rollout_ref.actor)

    return make


def _verl_batch(seed: int, B: int = 5, R: int = 9):
    """Log-ratios wide enough that ε_low, ε_high and the dual clip (r > 10 with A < 0) all bind somewhere."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([R, 1, R - 2, 4, R - 4][:B])
    mask = (torch.arange(R)[None, :] < lengths[:, None]).float()
    old = -torch.rand(B, R, generator=g) * 3
    lp = old + torch.randn(B, R, generator=g) * 1.2
    lp[0, :3] = old[0, :3] + torch.tensor([2.5, 3.0, -2.0])  # ratios e^2.5, e^3 (> 10), e^-2
    adv = torch.randn(B, 1, generator=g).expand(B, R).clone()
    adv[0] = -1.0
    ent = torch.rand(B, R, generator=g) * 2
    return lp, old, adv, mask, ent


def _through_ppo_loss(
    config, lp, old, adv, mask, ent, micro: list[slice], dp: int = 1, total_tokens=None, total_seqs=None, plain=False
):
    """verl's own `ppo_loss` over micro-batches, summed as verl's engine sums them, the global batch info set as
    the engine sets it. `plain`: verl's function itself, without our plug-in's hook around it (which lends the
    entropy to our loss and only calls through for other losses)."""
    import verl.workers.utils.losses as losses
    from tensordict import TensorDict
    from verl.utils import tensordict_utils as tu
    from verl.workers.utils.padding import left_right_2_no_padding

    from tests.test_verl_integration import model_output

    lp = lp.clone().requires_grad_()
    total = torch.zeros(())
    for s in micro:
        B, R = mask[s].shape
        lens = [int(x) for x in mask[s].sum(-1)]
        plens = [3] * B
        padded = TensorDict(
            {
                "prompts": torch.ones(B, 3, dtype=torch.long),
                "responses": torch.ones(B, R, dtype=torch.long),
                "input_ids": torch.ones(B, 3 + R, dtype=torch.long),
                "attention_mask": torch.cat([torch.ones(B, 3, dtype=torch.long), mask[s].long()], 1),
                "response_mask": mask[s].long(),
                "position_ids": (torch.cat([torch.ones(B, 3), mask[s]], 1).cumsum(-1) - 1).clamp(min=0).long(),
                "old_log_probs": old[s],
                "advantages": adv[s],
            },
            batch_size=[B],
        )
        td = left_right_2_no_padding(padded)
        tu.assign_non_tensor(
            td,
            dp_size=dp,
            batch_num_tokens=int(mask.sum()) if total_tokens is None else total_tokens,
            global_batch_size=mask.shape[0] if total_seqs is None else total_seqs,
        )
        out = {"log_probs": model_output(lp[s], plens, lens), "entropy": model_output(ent[s], plens, lens)}
        ppo_loss = losses.ppo_loss.__wrapped__ if plain else losses.ppo_loss
        loss, _ = ppo_loss(config=config, model_output=out, data=td, dp_group=None)
        total = total + loss
    (grad,) = torch.autograd.grad(total, lp)
    return total.detach(), grad


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "agg, normalizer",
    [("token-mean", "all"), ("seq-mean-token-mean", "sequence"), ("seq-mean-token-sum-norm", "dr-grpo")],
)
@pytest.mark.parametrize("dp", [1, 2])
def test_verl_vanilla_equals_our_loss_at_rho_1(verl_config, seed, agg, normalizer, dp):
    """ρ = 1 masks nothing, so our plug-in's DAPO loss (normaliser "all" / "sequence" / "dr-grpo", rescaled to verl's
    global batch) must equal verl's own vanilla clipped loss with agg_loss token-mean / seq-mean-token-mean /
    seq-mean-token-sum-norm (L: each micro-batch's padded response length, no loss_scale_factor): value and
    gradient, over unequal micro-batches, on one rank or as one of two (dp_size 2, global counts doubled)."""
    lp, old, adv, mask, ent = _verl_batch(seed)
    micro = [slice(0, 2), slice(2, 5)]
    kw = {"dp": dp, "total_tokens": int(mask.sum()) * dp, "total_seqs": mask.shape[0] * dp}
    want, want_g = _through_ppo_loss(verl_config(False, agg), lp, old, adv, mask, ent, micro, plain=True, **kw)
    got, got_g = _through_ppo_loss(verl_config(True, agg, normalizer), lp, old, adv, mask, ent, micro, **kw)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(got_g, want_g, rtol=1e-6, atol=1e-8)
    ratio = (lp - old).exp()
    valid = mask != 0
    assert ((ratio > 1.28) & valid & (adv > 0)).any() or ((ratio < 0.8) & valid & (adv < 0)).any()
    assert ((ratio > 10) & valid & (adv < 0)).any()  # the dual clip binds: both apply it


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean", "token-sum", "seq-mean-token-sum"])
def test_verl_vanilla_through_our_plugin_equals_vanilla(verl_config, agg):
    """`entropy_base_loss=vanilla` at ρ = 1: verl's own loss on response_mask ∧ (our mask = every valid token),
    with every loss_agg_mode verl has: the plug-in changes nothing when nothing is masked."""
    lp, old, adv, mask, ent = _verl_batch(3)
    micro = [slice(0, 1), slice(1, 5)]
    want, want_g = _through_ppo_loss(verl_config(False, agg), lp, old, adv, mask, ent, micro, plain=True)
    got, got_g = _through_ppo_loss(verl_config(True, agg, base="vanilla"), lp, old, adv, mask, ent, micro)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close(got_g, want_g, rtol=0, atol=0)
    assert math.isfinite(float(got))


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
