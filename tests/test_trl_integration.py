"""train.integrations.trl: one real TRL GRPO step on CPU with a tiny random Llama and our reward; the
example script in two real processes (torch.distributed, gloo), mask scopes global and micro."""

import dataclasses
import json
import math

import pytest
import torch

pytest.importorskip("trl")

from datasets import Dataset  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from tasks.reward import make_trl_reward  # noqa: E402
from tests.train_tiny import build  # noqa: E402
from tests.two_ranks import ROOT, accelerate_launch  # noqa: E402
from train.integrations.trl import EntropyMaskedGRPOConfig, EntropyMaskedGRPOTrainer  # noqa: E402
from train.loss import policy_loss  # noqa: E402
from train.mask import num_selected, selection_seed, top_entropy_mask  # noqa: E402

RHO = 0.25


class RecordingTrainer(EntropyMaskedGRPOTrainer):
    """Keeps, per micro-batch, the token mask, its stats and d loss / d per-token logp."""

    records: list

    def entropy_masked_loss(self, per_token_logps, old, advantages, mask, entropies, ref=None, token_weights=None):
        loss, token_mask, stats, metrics = super().entropy_masked_loss(
            per_token_logps, old, advantages, mask, entropies, ref, token_weights
        )
        rec = {
            "logps": per_token_logps.detach().clone(),
            "old": old.detach().clone(),
            "entropies": entropies.detach().clone(),
            "seed": selection_seed(self.args.seed, self.state.global_step, len(self.records)),
            "token_mask": token_mask,
            "mask": mask.clone(),
            "stats": stats,
            "loss": loss.detach(),
            "advantages": advantages.detach().clone(),
        }
        per_token_logps.register_hook(lambda g: rec.__setitem__("grad", g.detach().clone()))
        self.records.append(rec)
        return loss, token_mask, stats, metrics


def grpo_config(tmp_path, **over) -> EntropyMaskedGRPOConfig:
    """One GRPO step on CPU: 8 completions (2 prompts x 4), logged, nothing saved."""
    base = dict(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        report_to="none",
        max_steps=1,
        logging_steps=1,
        per_device_train_batch_size=8,
        num_generations=4,
        save_strategy="no",
        seed=0,
    )
    return EntropyMaskedGRPOConfig(**{**base, **over})


@pytest.mark.parametrize("selection", ["entropy", "random"])
def test_one_grpo_step_trains_only_the_selected_tokens(tmp_path, selection):
    model_dir = build(tmp_path / "tiny")
    data = Dataset.from_dict({"prompt": ["1+2=", "3*4=", "9-5=", "7+7="], "answer": ["3", "12", "4", "14"]})
    args = grpo_config(
        tmp_path,
        max_completion_length=24,
        learning_rate=1e-3,
        entropy_rho=RHO,
        entropy_rule="topk",
        entropy_scope="micro",
        loss_normalizer="selected",
        entropy_selection=selection,
    )
    # Our grader plus DAPO's overlong shaping: random completions differ in length, so rewards differ.
    reward = make_trl_reward(mode="binary", overlong=(24, 16))
    trainer = RecordingTrainer(model=str(model_dir), reward_funcs=reward, args=args, train_dataset=data)
    trainer.records = []
    trainer.train()

    assert trainer.records
    for rec in trainer.records:
        assert torch.isfinite(rec["loss"]), rec["loss"]
        valid = rec["mask"] != 0
        n = int(valid.sum())
        sel = rec["token_mask"]
        assert int(sel.sum()) == num_selected(RHO, n)
        assert rec["stats"]["selected_fraction"] == pytest.approx(num_selected(RHO, n) / n)
        g = rec["grad"]
        assert torch.all(g[~sel] == 0)  # exactly zero off the mask (padding included)
        assert rec["advantages"].abs().sum() > 0  # rewards differed, so the step is not trivially zero
        assert g[sel].abs().sum() > 0  # and a real gradient on the selected tokens

    logged = [h for h in trainer.state.log_history if "entropy_mask/selected_fraction" in h]
    assert logged
    frac = logged[0]["entropy_mask/selected_fraction"]
    n_min = min(int((r["mask"] != 0).sum()) for r in trainer.records)
    assert abs(frac - RHO) <= 1.0 / n_min + 1e-9  # ceil(ρN)/N: ρ up to one token
    assert math.isfinite(logged[0]["loss"])
    if selection == "random":  # the same count, not the top-entropy tokens; reproducible from (seed, step, call)
        from train.mask import random_mask, selection_seed

        rec = trainer.records[0]
        want, _ = random_mask(rec["mask"], RHO, seed=selection_seed(0, 0, 0))
        assert torch.equal(rec["token_mask"], want)


def test_entropy_bonus_reaches_the_loss_and_adaptive_is_refused(tmp_path):
    """TRL's own `entropy_coef` is our bonus (-coef x mean H over entropy_over tokens): it needs TRL's entropies to
    carry gradient (policy_loss refuses them otherwise), and the loss of each call is the policy part minus it."""
    model_dir = build(tmp_path / "tiny")
    data = Dataset.from_dict({"prompt": ["1+2=", "3*4=", "9-5=", "7+7="], "answer": ["3", "12", "4", "14"]})
    args = grpo_config(tmp_path, max_completion_length=16, entropy_rho=RHO, entropy_coef=0.5, entropy_over="selected")
    reward = make_trl_reward(mode="binary", overlong=(16, 8))
    trainer = RecordingTrainer(model=str(model_dir), reward_funcs=reward, args=args, train_dataset=data)
    trainer.records = []
    trainer.train()
    logged = [h for h in trainer.state.log_history if "entropy_bonus" in h]
    assert logged and logged[0]["entropy_bonus"] > 0
    rec = trainer.records[0]
    without, _, _, _ = dataclasses.replace(trainer.preset, entropy_coef=0.0).masked_loss(
        rec["logps"],
        rec["old"],
        rec["advantages"],
        rec["mask"],
        rec["entropies"],
        seed=rec["seed"],
    )
    bonus = rec["entropies"][rec["token_mask"]].float().mean()
    assert rec["loss"].item() == pytest.approx((without - 0.5 * bonus).item(), rel=1e-5, abs=1e-6)
    with pytest.raises(ValueError, match="use_adaptive_entropy"):
        grpo_config(tmp_path, use_adaptive_entropy=True)


@pytest.mark.parametrize("normalizer", ["selected", "all", "sequence"])
def test_masked_loss_gradient_is_zero_off_the_mask(normalizer):
    g = torch.Generator().manual_seed(0)
    ent = torch.rand(3, 10, generator=g)
    valid = torch.arange(10)[None, :] < torch.tensor([[10], [6], [3]])
    lp = (torch.randn(3, 10, generator=g) * 0.05).requires_grad_()
    old = torch.zeros(3, 10)
    adv = torch.tensor([1.0, -0.5, 2.0])
    sel, _ = top_entropy_mask(ent, valid, 0.3, rule="quantile", scope="local")
    loss, _ = policy_loss(lp, old, adv, valid, token_mask=sel, normalizer=normalizer)
    loss.backward()
    assert torch.all(lp.grad[~sel] == 0)
    assert torch.all(lp.grad[sel] != 0)


# The example in two real processes: `accelerate launch` (torchrun underneath), gloo on the CPU (tests/two_ranks.py).

WORLD, PER_DEVICE, NUM_GEN = 2, 4, 4


def launch_example(tmp_path, scope, steps=2):
    """Run train/examples/trl_grpo.py on WORLD CPU processes; (output dir, per-step log entries)."""
    model_dir = tmp_path / "tiny"
    if not model_dir.exists():
        build(model_dir)
    out = tmp_path / f"out-{scope}"
    accelerate_launch(
        ROOT / "train/examples/trl_grpo.py",
        "--model",
        str(model_dir),
        "--output_dir",
        str(out),
        "--use_cpu",
        "--report_to",
        "none",
        "--seed",
        "0",
        "--max_steps",
        str(steps),
        "--logging_steps",
        "1",
        "--save_strategy",
        "no",
        "--per_device_train_batch_size",
        str(PER_DEVICE),
        "--num_generations",
        str(NUM_GEN),
        "--max_completion_length",
        "16",
        "--overlong_buffer",
        "8",
        "--learning_rate",
        "1e-3",
        "--synthetic_size",
        "16",
        "--entropy_rho",
        str(RHO),
        "--entropy_scope",
        scope,
        "--entropy_rule",
        "quantile",
        "--loss_normalizer",
        "all",
        world=WORLD,
        timeout=300,
        hung=f"{WORLD}-process TRL run with scope={scope} hung",
        env={"HF_HOME": str(tmp_path / "hf")},
    )
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    return out, [h for h in history if "entropy_mask/num_valid" in h]


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["global", "micro"])
def test_example_two_processes(tmp_path, scope):
    out, steps = launch_example(tmp_path, scope)
    assert len(steps) == 2  # logging_steps=1: one entry per optimizer step, each one generation batch

    # The model was trained (DDP all-reduces the ranks' gradients) and saved by the main process.
    before, after = load_file(tmp_path / "tiny" / "model.safetensors"), load_file(out / "model.safetensors")
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert any(s["grad_norm"] > 0 for s in steps)
    assert all(math.isfinite(s["loss"]) and math.isfinite(s["policy_loss"]) for s in steps)

    for s in steps:
        # TRL's own gathered completion lengths: all valid tokens of the step, both ranks together.
        pool = round(s["completions/mean_length"] * WORLD * PER_DEVICE)
        n, frac = s["entropy_mask/num_valid"], s["entropy_mask/selected_fraction"]
        selected = round(frac * n)
        assert frac * n == pytest.approx(selected)  # a token count over the pool the mask saw
        # quantile rule: H >= quantile(1-ρ) keeps ≈ ρN, more where tokens tie at the cut (the
        # completions of one prompt share their first tokens' entropies: up to NUM_GEN ties)
        assert RHO * (n - 1) - 1e-6 <= selected <= RHO * (n - 1) + NUM_GEN + 1
        if scope == "global":
            assert n == pool  # the mask selected among both ranks' tokens
            assert s["entropy_mask/threshold_spread"] == 0.0  # one threshold, the same on both ranks
        else:
            assert 0 < n < pool  # rank 0's micro-batch only: rank 1 held the rest
    if scope == "micro":  # each rank cut its own tokens: the thresholds differ
        assert any(s["entropy_mask/threshold_spread"] > 0 for s in steps)
