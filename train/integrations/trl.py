"""The entropy-masked policy loss inside TRL's `GRPOTrainer` (accelerate, DeepSpeed, FSDP).

TRL 1.16 has its own `top_entropy_quantile`, but only one variant: H >= quantile(1-ρ) over all
data-parallel ranks, normalised by TRL's `loss_type`. `EntropyMaskedGRPOTrainer` replaces the loss
(`_compute_loss`, the narrowest hook: generation, rewards, advantages, reference model and logging
stay TRL's) with a `train.presets.Preset` (`train.mask.top_entropy_mask` + `train.loss.policy_loss`),
so the selection rule (train.mask.RULES), scope (train.mask.SCOPES), selection (train.mask.SELECTIONS), invert
(bottom-ρ ablation), objective (train.loss.OBJECTIVES) and normaliser (train.loss.NORMALIZERS) are configurable
through `EntropyMaskedGRPOConfig`; its checks and help name every value of those registries (tested).

The defaults are the authors' code (preset `paper-code`): ρ = 0.2, exact top-k per micro-batch,
mean over the selected tokens, DAPO clip ε_low = 0.2, ε_high = 0.28, dual clip c = 10, no KL.
For the paper's formula / TRL's behaviour use rule="quantile", scope="global", normalizer="all".

This module imports trl; nothing else in `train/` or `tasks/` does.
"""

from dataclasses import dataclass, field

import torch
from trl import GRPOConfig, GRPOTrainer

from train.loss import DAPO_CLIP_HIGH, DAPO_CLIP_LOW, DAPO_DUAL_CLIP, ENTROPY_BONUS_OVER, NORMALIZERS, OBJECTIVES
from train.mask import RULES, SCOPES, SELECTIONS, selection_seed
from train.presets import Preset


@dataclass
class EntropyMaskedGRPOConfig(GRPOConfig):
    """`GRPOConfig` plus the entropy mask and the loss normaliser (Wang et al., arXiv 2506.01939)."""

    entropy_rho: float = field(
        default=0.2, metadata={"help": "Fraction ρ of valid response tokens that get a policy gradient (paper: 0.2)."}
    )
    entropy_rule: str = field(
        default="topk",
        metadata={"help": "'topk' (authors' code: exactly ceil(ρN)) or 'quantile' (TRL: H >= quantile(1-ρ))."},
    )
    entropy_scope: str = field(
        default="micro",
        metadata={"help": "'micro' (authors' code), 'global' (across DP ranks, TRL) or 'local' (per sequence)."},
    )
    entropy_selection: str = field(
        default="entropy",
        metadata={
            "help": "'entropy' (top-ρ by entropy), 'random' (ceil(ρN) tokens at random, seeded from seed and step: "
            "the control), 'clip-cov' or 'kl-cov' (Cui et al., within the top-ρ)."
        },
    )
    entropy_invert: bool = field(
        default=False, metadata={"help": "Select the bottom-ρ (lowest-entropy) tokens instead (the paper's ablation)."}
    )
    loss_normalizer: str = field(
        default="selected",
        metadata={
            "help": "'selected' (authors' code), 'all' (paper formula, TRL), 'sequence' or 'dr-grpo' (divides by "
            "max_completion_length; pair it with scale_rewards='none' for Dr.GRPO's advantages)."
        },
    )
    loss_objective: str = field(
        default="dapo",
        metadata={
            "help": "'dapo' (clipped surrogate), 'gspo' (sequence ratio; set epsilon/epsilon_high ~3e-4/4e-4 and "
            "dual_clip=None) or 'cispo' (dual_clip=None)."
        },
    )
    dual_clip: float | None = field(
        default=DAPO_DUAL_CLIP, metadata={"help": "Dual-clip constant c for A < 0 (paper: 10); None turns it off."}
    )
    epsilon: float = field(default=DAPO_CLIP_LOW, metadata={"help": "Lower clip ε_low (DAPO; paper: 0.2)."})
    epsilon_high: float | None = field(
        default=DAPO_CLIP_HIGH, metadata={"help": "Upper clip ε_high (DAPO clip-higher; paper: 0.28)."}
    )
    entropy_over: str = field(
        default="valid",
        metadata={"help": "TRL's entropy_coef bonus averages the entropy over 'valid' tokens or the 'selected' ones."},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.entropy_rule not in RULES or self.entropy_scope not in SCOPES:
            raise ValueError(f"entropy_rule must be one of {RULES}, entropy_scope one of {SCOPES}")
        if self.entropy_selection not in SELECTIONS:
            raise ValueError(f"entropy_selection must be one of {tuple(SELECTIONS)}")
        if self.loss_objective not in OBJECTIVES:
            raise ValueError(f"loss_objective must be one of {tuple(OBJECTIVES)}")
        if self.loss_normalizer not in NORMALIZERS:
            raise ValueError(f"loss_normalizer must be one of {NORMALIZERS}")
        if not 0.0 < self.entropy_rho <= 1.0:
            raise ValueError(f"entropy_rho must be in (0, 1], got {self.entropy_rho}")
        if self.top_entropy_quantile < 1.0:
            raise ValueError("use entropy_rho (with entropy_rule/scope), not TRL's top_entropy_quantile")
        if self.entropy_over not in ENTROPY_BONUS_OVER:
            raise ValueError(f"entropy_over must be one of {ENTROPY_BONUS_OVER}")
        if self.use_adaptive_entropy:
            raise ValueError("use_adaptive_entropy is not supported by this loss: set a constant entropy_coef")


# Multimodal inputs TRL's own `_compute_loss` forwards to `_get_per_token_logps_and_entropies`.
_MODEL_INPUTS = (
    "pixel_values",
    "image_grid_thw",
    "num_images",
    "pixel_attention_mask",
    "spatial_shapes",
    "num_tiles",
    "image_sizes",
    "token_type_ids",
    "mm_token_type_ids",
    "image_position_ids",
)


class EntropyMaskedGRPOTrainer(GRPOTrainer):
    """`GRPOTrainer` whose loss is `train.loss.policy_loss` on `train.mask.top_entropy_mask`.

    TRL's `loss_type` and `importance_sampling_level` are not used by this loss (`loss_objective`,
    `loss_normalizer` say what it is); `beta` (if non-zero) becomes the k3 KL coefficient; `entropy_coef`
    is the entropy bonus (over `entropy_over` tokens); with vLLM, TRL's own sampler-mismatch correction
    (`vllm_importance_sampling_correction`, its TIS/MIS weights) multiplies each token's loss. Logged metrics (TRL prefixes
    train/eval): `entropy_mask/selected_fraction` (= ρ for top-k), `entropy_mask/threshold`,
    `entropy_mask/num_valid` (tokens the mask chose from: all ranks' for scope="global"),
    `entropy_mask/threshold_spread` (max - min of the ranks' thresholds: 0 for "global"), `entropy`,
    `policy_loss`, `clip_ratio/{low,high,dual}`.

    Averaging is per micro-batch (as the authors' code), then divided by the gradient-accumulation
    steps; TRL's "dapo" instead divides by the token count of the whole accumulation window.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(self.args, EntropyMaskedGRPOConfig):
            raise TypeError("EntropyMaskedGRPOTrainer needs args=EntropyMaskedGRPOConfig(...)")

    @property
    def preset(self) -> Preset:
        """The `train.presets.Preset` that `args` asks for (read on every call)."""
        a = self.args
        return Preset(
            "trl",
            rule=a.entropy_rule,
            scope=a.entropy_scope,
            normalizer=a.loss_normalizer,
            rho=a.entropy_rho,
            invert=a.entropy_invert,
            selection=a.entropy_selection,
            clip_low=a.epsilon,
            clip_high=a.epsilon_high if a.epsilon_high is not None else a.epsilon,
            dual_clip=a.dual_clip,
            kl_coef=a.beta,
            objective=a.loss_objective,
            max_response_tokens=a.max_completion_length or 0,
            entropy_coef=a.entropy_coef,
            entropy_over=a.entropy_over,
        )

    def entropy_masked_loss(
        self,
        per_token_logps,
        old_per_token_logps,
        advantages,
        mask,
        entropies,
        ref_per_token_logps=None,
        token_weights=None,
    ):
        """(loss before gradient-accumulation scaling, token mask, mask stats, loss metrics).

        Random draws are seeded from (args.seed, global step, loss call in this step): reproducible, and
        the same on every rank (what scope "global" needs; other scopes fold the rank in).
        """
        step = self.state.global_step
        if getattr(self, "_selection_step", None) != step:
            self._selection_step, self._selection_calls = step, 0
        seed = selection_seed(self.args.seed, step, self._selection_calls)
        self._selection_calls += 1
        return self.preset.masked_loss(
            per_token_logps,
            old_per_token_logps,
            advantages,
            mask,
            entropies,
            ref_logprobs=ref_per_token_logps,
            seed=seed,
            token_weights=token_weights,
        )

    def _compute_loss(self, model, inputs):
        prompt_ids, prompt_mask = inputs["prompt_ids"], inputs["prompt_mask"]
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        mask = completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        per_token_logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model,
            input_ids,
            attention_mask,
            completion_ids.size(1),
            compute_entropy=True,
            **{k: inputs.get(k) for k in _MODEL_INPUTS},
        )
        old = inputs.get("old_per_token_logps")
        old = per_token_logps.detach() if old is None else old
        ref = inputs.get("ref_per_token_logps") if self.beta != 0.0 else None
        is_ratio = inputs.get("importance_sampling_ratio")  # TRL's vLLM TIS/MIS weights, [B, T] or [B, 1]
        loss, _, stats, m = self.entropy_masked_loss(
            per_token_logps, old, inputs["advantages"], mask, entropies, ref, token_weights=is_ratio
        )

        mode = "train" if self.model.training else "eval"
        metrics = self._metrics[mode]
        # One all-gather of per-rank [loss, entropy sum, valid tokens, threshold].
        ent = (entropies.detach().float() * (mask != 0)).sum()
        local = torch.tensor([m["num_valid"], stats["threshold"]], dtype=torch.float32, device=loss.device)
        ranks = self.accelerator.gather(torch.cat([torch.stack([loss.detach().float(), ent]), local])[None])
        metrics["policy_loss"].append(ranks[:, 0].nanmean().item())
        metrics["entropy"].append((ranks[:, 1].sum() / ranks[:, 2].sum().clamp(min=1)).item())
        # The mask's stats are already over its scope (all ranks for scope="global"); num_valid is the
        # size of the pool it selected from, threshold_spread how far the ranks' cuts differ (0 when
        # they share one, as "global" must; NaN cuts of ranks without tokens are left out).
        metrics["entropy_mask/selected_fraction"].append(stats["selected_fraction"])
        metrics["entropy_mask/threshold"].append(stats["threshold"])
        metrics["entropy_mask/num_valid"].append(stats["num_valid"])
        cuts = ranks[:, 3][~ranks[:, 3].isnan()]
        metrics["entropy_mask/threshold_spread"].append(
            (cuts.max() - cuts.min()).item() if cuts.numel() else float("nan")
        )
        for k in ("clip_frac_low", "clip_frac_high", "clip_frac_dual"):
            metrics[f"clip_ratio/{k[len('clip_frac_') :]}"].append(m[k])
        if "ref_kl" in m:
            metrics["kl"].append(m["ref_kl"])
        if "entropy_bonus" in m:
            metrics["entropy_bonus"].append(m["entropy_bonus"])

        if mode == "train":  # HF's own loss scaling is off for GRPOTrainer: scale for accumulation
            loss = loss / self.current_gradient_accumulation_steps
        return loss
