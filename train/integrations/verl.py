"""The entropy-masked policy loss inside verl 0.9 (Ray; the paper's own stack), without forking verl.

Registration. `entropy_masked` is added to verl's own policy-loss registry
(`verl.trainer.ppo.core_algos.register_policy_loss`); select it with
`actor_rollout_ref.actor.policy_loss.loss_mode=entropy_masked`. verl runs the loss in Ray worker processes
that never import the driver's modules, so this module is a verl plugin: pyproject.toml declares it in the
entry-point group `verl.plugins`, which `import verl` loads in every process on every node where this
package is installed (`VERL_USE_EXTERNAL_MODULES=train.integrations.verl` does the same by hand).

Settings. verl turns the actor config into a frozen dataclass (`FSDPActorConfig`, through Hydra
`_target_`s that reject unknown keys) and passes that object to the policy loss. So ρ, rule, scope, invert
and the normaliser are fields of `EntropyMaskedPolicyLossConfig`, a subclass of verl's `PolicyLossConfig`,
chosen with `actor_rollout_ref.actor.policy_loss._target_=train.integrations.verl.EntropyMaskedPolicyLossConfig`
and set with `+actor_rollout_ref.actor.policy_loss.entropy_rho=0.2` etc. The loss reads them from the config
it is called with, on every call, so ρ cannot sit where the loss never looks (the authors' release bug);
these fields with another loss_mode, or this loss without them, are errors. Clipping uses verl's own actor
keys: clip_ratio_low (ε_low), clip_ratio_high (ε_high), clip_ratio_c (dual clip c).

Entropy. verl 0.9.1 calls a policy loss with (old_log_prob, log_prob, advantages, response_mask,
loss_agg_mode, config, rollout_is_weights): no entropy. The actor computes it when
`actor.calculate_entropy=True`, into `model_output["entropy"]`, which only `verl.workers.utils.losses.ppo_loss`
sees (for its entropy bonus), and the actor worker class cannot be swapped by config. The narrowest hook is
therefore a pass-through wrapper around that `ppo_loss`: when the loss mode is ours it pads the entropy
exactly as ppo_loss pads the log-probs and lends it, with the data-parallel group, to our loss through a
context variable for the length of the call; for any other loss it only calls through. Importing this
module installs it (verl's engine_workers binds `ppo_loss` on import; if it is already loaded, its binding
is replaced too). The loss also takes `entropy=` directly.

Scale. verl 0.9 backpropagates each micro-batch loss as returned and expects it normalised over the whole
mini-batch (`config.global_batch_info`: dp_size, batch_num_tokens, global_batch_size; FSDP then averages
ranks). `train.loss.policy_loss` gives the micro-batch value; it is rescaled so that the summed micro-batches
and averaged ranks give, per normaliser:
- "selected" (authors' code): each micro-batch's mean over its selected tokens, averaged over micro-batches
  weighted by their share of sequences (the authors' verl: 1/grad-accumulation, or len(micro)/mini-batch);
- "all" (paper's formula): sum over selected tokens / all valid tokens of the mini-batch (verl's token-mean);
- "sequence": per-sequence means averaged over the mini-batch's sequences (verl's seq-mean-token-mean);
- "dr-grpo": sum over selected tokens / (the mini-batch's sequences x L) (verl's seq-mean-token-sum-norm), L the
  actor's loss_scale_factor, else the padded response length of the micro-batch, as verl takes it.
Without dp_size in global_batch_info the micro-batch value is returned as is.

Composition with verl's own losses: `+...policy_loss.entropy_base_loss=clip_cov` (or kl_cov, gspo, cispo, any
registered mode) runs that verl loss on response_mask ∧ our mask instead of our DAPO loss: verl's
implementation and settings, our selection (entropy top-ρ or random), nothing duplicated.

verl's own KL loss (use_kl_loss) and entropy bonus (entropy_coeff) still apply on top, aggregated by
loss_agg_mode; the paper uses neither. Rollout importance weights (algorithm.rollout_correction) are refused
rather than silently dropped.

Reward: `tasks.reward.compute_score` has verl's custom-reward signature: `reward.custom_reward_function.path=`
the file of `tasks.reward`, `.name=compute_score`, `+reward.custom_reward_function.reward_kwargs.mode=pm1`.
train/examples/verl_dapo_qwen3_8b.sh is the paper's recipe. Tested against verl 0.9.1 on CPU.
"""

from __future__ import annotations

import contextvars
import sys
from dataclasses import dataclass

import torch
from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY, register_policy_loss
from verl.workers.config import PolicyLossConfig

from train.loss import COV_SELECTIONS, NORMALIZERS
from train.mask import RULES, SCOPES, SELECTIONS, selection_seed
from train.presets import Preset

LOSS_NAME = "entropy_masked"
# Our selections but the covariance ones: clip_cov, kl_cov (and gspo, cispo) are verl's own loss_mode values.
_VERL_SELECTIONS = tuple(s for s in SELECTIONS if s not in COV_SELECTIONS)
CONFIG_TARGET = "train.integrations.verl.EntropyMaskedPolicyLossConfig"
_PL = "actor_rollout_ref.actor.policy_loss"


@dataclass
class EntropyMaskedPolicyLossConfig(PolicyLossConfig):
    """verl's `PolicyLossConfig` plus the entropy mask. Defaults: the authors' code (preset paper-code)."""

    loss_mode: str = LOSS_NAME
    entropy_rho: float = 0.2  # fraction of valid response tokens trained (paper: 0.2)
    entropy_rule: str = "topk"  # "topk" (authors' code) or "quantile" (TRL)
    entropy_scope: str = "micro"  # "micro" (authors' code), "global" (across DP ranks) or "local"
    entropy_invert: bool = False  # bottom-ρ ablation
    entropy_selection: str = "entropy"  # "entropy" (top-ρ) or "random" (ceil(ρN) at random: the control)
    entropy_seed: int = 0  # random: draws are seeded from (entropy_seed, this process's loss call)
    entropy_base_loss: str = ""  # "" = our DAPO loss; else a verl loss_mode (clip_cov, kl_cov, gspo, cispo,
    # ...) run on response_mask ∧ our token mask, with verl's own settings
    loss_normalizer: str = "selected"  # train.loss.NORMALIZERS: "selected" (authors' code), "all" (paper formula),
    # "sequence" or "dr-grpo" (module docstring, "Scale")

    def __post_init__(self):
        if self.loss_mode != LOSS_NAME:
            raise ValueError(
                f"{_PL}._target_ is {type(self).__name__} but loss_mode is {self.loss_mode!r}, so "
                f"nothing would read its entropy_* settings; set {_PL}.loss_mode={LOSS_NAME}"
            )
        if not 0.0 < self.entropy_rho <= 1.0:
            raise ValueError(f"{_PL}.entropy_rho must be in (0, 1], got {self.entropy_rho}")
        if self.entropy_rule not in RULES:
            raise ValueError(f"{_PL}.entropy_rule must be one of {RULES}, got {self.entropy_rule!r}")
        if self.entropy_selection not in _VERL_SELECTIONS:
            raise ValueError(
                f"{_PL}.entropy_selection must be one of {_VERL_SELECTIONS}, got "
                f"{self.entropy_selection!r} (verl has clip_cov / kl_cov as its own loss modes)"
            )
        if self.entropy_base_loss and (
            self.entropy_base_loss == LOSS_NAME or self.entropy_base_loss not in POLICY_LOSS_REGISTRY
        ):
            raise ValueError(
                f"{_PL}.entropy_base_loss must be one of verl's other loss modes "
                f"{sorted(set(POLICY_LOSS_REGISTRY) - {LOSS_NAME})}, got {self.entropy_base_loss!r}"
            )
        if self.entropy_scope not in SCOPES:
            raise ValueError(f"{_PL}.entropy_scope must be one of {SCOPES}, got {self.entropy_scope!r}")
        if self.loss_normalizer not in NORMALIZERS:
            raise ValueError(f"{_PL}.loss_normalizer must be one of {NORMALIZERS}, got {self.loss_normalizer!r}")


def preset_from_config(config, response_length: int = 0) -> Preset:
    """The `train.presets.Preset` that an actor config (dataclass or DictConfig) asks for. `response_length`: the
    micro-batch's padded response length, dr-grpo's L when the actor sets no loss_scale_factor (as verl's agg_loss)."""
    if config is None:
        raise ValueError(f"{LOSS_NAME}: verl passed no actor config")
    pl = config.get("policy_loss")
    if pl is None or pl.get("entropy_rho") is None:
        raise ValueError(f"loss_mode={LOSS_NAME} needs its settings: set {_PL}._target_={CONFIG_TARGET}")
    if not isinstance(pl, EntropyMaskedPolicyLossConfig):  # a plain mapping (DictConfig): same checks
        keys = (
            "loss_mode",
            "entropy_rho",
            "entropy_rule",
            "entropy_scope",
            "entropy_invert",
            "loss_normalizer",
            "entropy_selection",
            "entropy_seed",
            "entropy_base_loss",
        )
        pl = EntropyMaskedPolicyLossConfig(**{k: pl.get(k) for k in keys if pl.get(k) is not None})
    clip = config.get("clip_ratio", 0.2)
    low, high = config.get("clip_ratio_low"), config.get("clip_ratio_high")
    return Preset(
        "verl",
        rule=pl.entropy_rule,
        scope=pl.entropy_scope,
        normalizer=pl.loss_normalizer,
        rho=float(pl.entropy_rho),
        invert=bool(pl.entropy_invert),
        selection=pl.entropy_selection,
        clip_low=float(clip if low is None else low),
        clip_high=float(clip if high is None else high),
        dual_clip=float(config.get("clip_ratio_c", 3.0)),
        kl_coef=0.0,
        max_response_tokens=int(config.get("loss_scale_factor") or response_length)
        if pl.loss_normalizer == "dr-grpo"
        else 0,
    )


# Loss calls in this process: the random selection's draw counter (verl passes no step to a policy loss;
# ranks call in lockstep, as the collectives of scope "global" need anyway). A restarted process restarts it.
_CALLS = 0

# (padded entropy [B, T], data-parallel group) for the ppo_loss call in progress; set by the hook below.
_ENTROPY: contextvars.ContextVar = contextvars.ContextVar("rlvr_verl_entropy", default=None)


def _global_scale(normalizer: str, metrics: dict, n_rows: int, n_seqs: int, info: dict) -> float:
    """Factor from our micro-batch value to verl's convention (see the module docstring)."""
    dp = info.get("dp_size")
    if dp is None:
        return 1.0
    if normalizer == "all":
        need, local = "batch_num_tokens", metrics["num_valid"]
    else:
        need, local = "global_batch_size", n_rows if normalizer in ("selected", "dr-grpo") else n_seqs
    total = info.get(need)
    if total is None:
        if dp > 1:
            raise ValueError(f"{LOSS_NAME}: global_batch_info lacks {need} with dp_size={dp}")
        return 1.0
    return float(local) * float(dp) / max(float(total), 1.0)


@register_policy_loss(LOSS_NAME)
def entropy_masked_policy_loss(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str = "token-mean",
    config=None,
    rollout_is_weights: torch.Tensor | None = None,
    *,
    entropy: torch.Tensor | None = None,
):
    """verl policy loss: `train.mask.top_entropy_mask` + `train.loss.policy_loss` with the config's settings.

    `entropy` ([B, T], the current policy's per-token entropy) defaults to the one the ppo_loss hook lent.
    loss_agg_mode is verl's and is not used: the normaliser is the config's loss_normalizer.
    """
    preset = preset_from_config(config, log_prob.shape[-1])
    base = config.get("policy_loss").get("entropy_base_loss") or ""
    if rollout_is_weights is not None and not base:
        raise ValueError(
            f"{LOSS_NAME} does not apply rollout importance weights; set algorithm.rollout_correction.rollout_is=null"
        )
    group = None
    if entropy is None:
        lent = _ENTROPY.get()
        if lent is None:
            raise ValueError(
                f"{LOSS_NAME} needs the per-token entropy: set actor_rollout_ref.actor.calculate_entropy="
                "True (and install rlvr-harness where verl runs, so its verl plugin loads)"
            )
        entropy, group = lent
    if entropy.shape != log_prob.shape:
        raise ValueError(f"{LOSS_NAME}: entropy shape {tuple(entropy.shape)} != log_prob {tuple(log_prob.shape)}")

    global _CALLS
    seed = selection_seed(int(config.get("policy_loss").get("entropy_seed") or 0), _CALLS)
    _CALLS += 1
    if base:
        return _compose(
            base,
            preset,
            old_log_prob,
            log_prob,
            advantages,
            response_mask,
            loss_agg_mode,
            config,
            rollout_is_weights,
            entropy.to(log_prob.device),
            group,
            seed,
        )
    loss, m = preset.loss(
        log_prob, old_log_prob, advantages, response_mask, entropy.to(log_prob.device), group=group, seed=seed
    )
    valid = response_mask != 0
    n_seqs = int(valid.any(-1).sum()) if valid.dim() == 2 else 1
    info = dict(config.get("global_batch_info") or {})
    loss = loss * _global_scale(preset.normalizer, m, log_prob.shape[0], n_seqs, info)

    p = "actor/entropy_mask/"
    metrics = {
        "actor/pg_clipfrac": m["clip_frac_low"] + m["clip_frac_high"],
        "actor/pg_clipfrac_lower": m["clip_frac_dual"],
        p + "rho": preset.rho,
        p + "selected_fraction": m["mask_selected_fraction"],
        p + "threshold": m["mask_threshold"],
        p + "approx_kl": m["approx_kl"],
    }
    for k in ("entropy_mean", "entropy_selected_mean", "entropy_p50", "entropy_p80", "entropy_p95"):
        if k in m:
            metrics[p + k] = m[k]
    return loss, metrics


def _compose(
    base,
    preset,
    old_log_prob,
    log_prob,
    advantages,
    response_mask,
    loss_agg_mode,
    config,
    rollout_is_weights,
    entropy,
    group,
    seed,
):
    """verl's own loss `base` (its Clip-Cov, KL-Cov, GSPO, CISPO, ...), restricted to our token mask: it sees
    response_mask ∧ mask, so unselected tokens get no gradient and its aggregation (loss_agg_mode) and
    settings (clip_cov_ratio, kl_cov_ratio, ...) are verl's. Note: verl's GSPO then takes its sequence ratio
    over the selected tokens (our objective "gspo" takes it over all valid tokens)."""
    from verl.trainer.ppo.core_algos import get_policy_loss_fn

    token_mask, stats = preset.mask(entropy, response_mask, group, seed)
    sel = (response_mask != 0) & token_mask
    loss, metrics = get_policy_loss_fn(base)(
        old_log_prob, log_prob, advantages, sel.to(response_mask.dtype), loss_agg_mode, config, rollout_is_weights
    )
    p = "actor/entropy_mask/"
    metrics = dict(metrics)
    metrics.update(
        {
            p + "rho": preset.rho,
            p + "selected_fraction": stats["selected_fraction"],
            p + "threshold": stats["threshold"],
        }
    )
    return loss, metrics


def _with_entropy(ppo_loss):
    """Wrap verl's `ppo_loss(config, model_output, data, dp_group)` to lend the entropy to our loss."""
    from verl.workers.utils.padding import no_padding_2_padding

    def hooked(config, model_output, data, *args, **kwargs):
        policy_loss = config.get("policy_loss") if config is not None else None
        mode = policy_loss.get("loss_mode") if policy_loss is not None else None
        ent = model_output.get("entropy") if mode == LOSS_NAME else None
        if ent is None:
            return ppo_loss(config, model_output, data, *args, **kwargs)
        group = kwargs.get("dp_group", args[0] if args else None)
        token = _ENTROPY.set((no_padding_2_padding(ent, data), group))
        try:
            return ppo_loss(config, model_output, data, *args, **kwargs)
        finally:
            _ENTROPY.reset(token)

    hooked.__wrapped__ = ppo_loss
    hooked.__name__ = getattr(ppo_loss, "__name__", "ppo_loss")
    hooked.__doc__ = ppo_loss.__doc__
    hooked.rlvr_entropy_hook = True
    return hooked


def install_entropy_hook() -> None:
    """Put the wrapper in place of verl's `ppo_loss` (idempotent)."""
    import verl.workers.utils.losses as losses

    if not getattr(losses.ppo_loss, "rlvr_entropy_hook", False):
        losses.ppo_loss = _with_entropy(losses.ppo_loss)
    workers = sys.modules.get("verl.workers.engine_workers")
    if workers is not None and not getattr(getattr(workers, "ppo_loss", None), "rlvr_entropy_hook", True):
        workers.ppo_loss = losses.ppo_loss


install_entropy_hook()
