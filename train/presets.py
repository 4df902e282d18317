"""Named configurations of the entropy-masked policy loss, so that "the paper's setting" is one name.

Wang et al. (arXiv 2506.01939) describe one method two ways, and they differ in gradient scale
by ~1/ρ (5x at ρ = 0.2):

| preset          | selection                                 | normaliser                      |
|-----------------|-------------------------------------------|---------------------------------|
| `paper-code`    | per micro-batch, exact top-k, k=ceil(ρN)  | mean over selected tokens       |
| `paper-formula` | across DP ranks, H >= quantile(1-ρ) (TRL) | divide by all valid tokens      |
| `random`        | per micro-batch, k=ceil(ρN) drawn at random | mean over selected tokens     |

`random` is the control for the entropy mask: the same number of tokens, not the forking ones
(seeded from the run seed, the step and the micro-batch: train.mask.selection_seed).

All use the paper's DAPO settings: ρ = 0.2, ε_low = 0.2, ε_high = 0.28, dual clip c = 10, no KL,
temperature 1.0. `Preset.loss` is the single path from a configured ρ to the loss (the authors'
release once set ρ on a config object the loss never read); tests go through it.
"""
from dataclasses import dataclass, replace

from .loss import policy_loss
from .mask import SELECTIONS


@dataclass(frozen=True)
class Preset:
    name: str
    rule: str                  # "topk" (authors' code) or "quantile" (TRL)
    scope: str                 # "micro" (authors' code), "global" (TRL) or "local" (per sequence)
    normalizer: str            # "selected" (authors' code), "all" (paper formula, TRL), "sequence"
    rho: float = 0.2           # top 20 % highest-entropy tokens: the paper's main setting
    invert: bool = False       # True: bottom-ρ ablation
    clip_low: float = 0.2      # DAPO ε_low
    clip_high: float = 0.28    # DAPO ε_high (clip-higher)
    dual_clip: float | None = 10.0  # dual clip c = 10 for A < 0 (the paper's runs)
    kl_coef: float = 0.0       # no KL term in the paper
    temperature: float = 1.0   # rollout temperature; entropy is taken at the same T
    selection: str = "entropy"  # train.mask.SELECTIONS: "entropy" (top-ρ, bottom-ρ with invert) or "random"

    def __post_init__(self):
        """Combinations that mean nothing are refused here (ValueError), never silently overridden."""
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {tuple(SELECTIONS)}, got {self.selection!r}")
        if self.selection != "entropy" and self.invert:
            raise ValueError(f"invert (bottom-ρ by entropy) needs selection entropy, not {self.selection}")
        if self.selection == "random" and self.rule != "topk":
            raise ValueError("selection random draws exactly ceil(ρN) tokens; rule quantile is an entropy "
                             "threshold: set rule topk")

    def mask(self, entropy, response_mask, group=None, seed=None):
        """(token mask, stats) of this preset's selection; `seed` (train.mask.selection_seed) for random."""
        return SELECTIONS[self.selection](entropy, response_mask, self.rho, rule=self.rule, scope=self.scope,
                                          invert=self.invert, group=group, seed=seed)

    def loss(self, logprobs, old_logprobs, advantages, response_mask, entropy, *,
             ref_logprobs=None, group=None, seed=None):
        """Mask with this preset's selection and ρ, then the policy loss. Returns (loss, metrics)."""
        loss, _, _, metrics = self.masked_loss(logprobs, old_logprobs, advantages, response_mask, entropy,
                                               ref_logprobs=ref_logprobs, group=group, seed=seed)
        return loss, metrics

    def masked_loss(self, logprobs, old_logprobs, advantages, response_mask, entropy, *,
                    ref_logprobs=None, group=None, seed=None):
        """`loss`, with the token mask and the mask's stats (`top_entropy_mask`'s) as well:
        (loss, token mask, stats, metrics)."""
        token_mask, stats = self.mask(entropy, response_mask, group, seed)
        loss, metrics = policy_loss(
            logprobs, old_logprobs, advantages, response_mask, token_mask=token_mask,
            clip_low=self.clip_low, clip_high=self.clip_high, dual_clip=self.dual_clip,
            normalizer=self.normalizer, ref_logprobs=ref_logprobs, kl_coef=self.kl_coef,
            entropy=entropy)
        metrics["rho"] = self.rho
        metrics["mask_threshold"] = stats["threshold"]
        metrics["mask_selected_fraction"] = stats["selected_fraction"]  # over the mask's scope
        return loss, token_mask, stats, metrics


PRESETS = {
    "paper-code": Preset("paper-code", rule="topk", scope="micro", normalizer="selected"),
    "paper-formula": Preset("paper-formula", rule="quantile", scope="global", normalizer="all"),
    "random": Preset("random", rule="topk", scope="micro", normalizer="selected", selection="random"),
}


def get_preset(name: str, **overrides) -> Preset:
    """A named preset, with fields overridden (e.g. rho=0.5, invert=True for the ablations)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)
