"""train.integrations.trl: one real TRL GRPO step on CPU with a tiny random Llama and our reward."""
import math

import pytest
import torch

pytest.importorskip("trl")

from datasets import Dataset  # noqa: E402

from tasks.reward import make_trl_reward  # noqa: E402
from train.integrations.trl import EntropyMaskedGRPOConfig, EntropyMaskedGRPOTrainer  # noqa: E402
from train.loss import policy_loss  # noqa: E402
from train.mask import num_selected, top_entropy_mask  # noqa: E402

from tests.train_tiny import build  # noqa: E402

RHO = 0.25


class RecordingTrainer(EntropyMaskedGRPOTrainer):
    """Keeps, per micro-batch, the token mask, its stats and d loss / d per-token logp."""

    records: list

    def entropy_masked_loss(self, per_token_logps, old, advantages, mask, entropies, ref=None):
        loss, token_mask, stats, metrics = super().entropy_masked_loss(per_token_logps, old, advantages, mask,
                                                                       entropies, ref)
        rec = {"token_mask": token_mask, "mask": mask.clone(), "stats": stats, "loss": loss.detach(),
               "advantages": advantages.detach().clone()}
        per_token_logps.register_hook(lambda g: rec.__setitem__("grad", g.detach().clone()))
        self.records.append(rec)
        return loss, token_mask, stats, metrics


def test_one_grpo_step_trains_only_the_selected_tokens(tmp_path):
    model_dir = build(tmp_path / "tiny")
    data = Dataset.from_dict({"prompt": ["1+2=", "3*4=", "9-5=", "7+7="], "answer": ["3", "12", "4", "14"]})
    args = EntropyMaskedGRPOConfig(
        output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none", max_steps=1, logging_steps=1,
        per_device_train_batch_size=8, num_generations=4, max_completion_length=24, learning_rate=1e-3,
        save_strategy="no", seed=0, entropy_rho=RHO, entropy_rule="topk", entropy_scope="micro",
        loss_normalizer="selected")
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
