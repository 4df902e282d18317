"""Named configurations of the policy loss, so that "the paper's setting" or "the baseline" is one name.

Wang et al. (arXiv 2506.01939) describe one method two ways, and they differ in gradient scale
by ~1/ρ (5x at ρ = 0.2):

| preset          | selection                                 | normaliser                      |
|-----------------|-------------------------------------------|---------------------------------|
| `paper-code`    | per micro-batch, exact top-k, k=ceil(ρN)  | mean over selected tokens       |
| `paper-formula` | across DP ranks, H >= quantile(1-ρ) (TRL) | divide by all valid tokens      |

The baselines hold everything else at paper-code (DAPO clip 0.2/0.28, dual clip 10, no KL, T = 1,
per-micro-batch token mean) and change one axis (`selection`, `objective`, normaliser/advantages):

| preset     | paper                              | what changes (defaults)                                    |
|------------|------------------------------------|------------------------------------------------------------|
| `random`   | the control for the entropy mask   | ceil(ρN) tokens drawn at random, ρ = 0.2 (seeded)           |
| `clip-cov` | Cui et al., arXiv 2505.22617       | all tokens; zero the gradient of max(1, ⌊2e-4 N⌋) random tokens with 1 < cov < 5 |
| `kl-cov`   | Cui et al., arXiv 2505.22617       | all tokens, unclipped -A r; + 1.0·|log r| on the top ⌊2e-4 N⌋ by cov |
| `gspo`     | Zheng et al., arXiv 2507.18071     | sequence ratio, ε 3e-4 / 4e-4, no dual clip, sequence-mean of token-means |
| `cispo`    | MiniMax-M1, arXiv 2506.13585       | -sg(clip(r, 0, 1.28)) A log π (no lower clip, as MiniMax), no dual clip |
| `dr-grpo`  | Liu et al., arXiv 2503.20783       | sum / (sequences x max_response_tokens); A = r - mean(group) |

The baselines train on all tokens (ρ = 1) by default; `--rho 0.2` composes them with the entropy
mask (clip-cov / kl-cov then act within the top-ρ tokens; gspo keeps its sequence ratio over all
valid tokens). Cui et al.'s recipes also widen the clip: set clip_low / clip_high, nothing is hard-wired.
`Preset.loss` is the single path from a configured ρ to the loss (the authors' release once set ρ on a
config object the loss never read); tests go through it.
"""

from dataclasses import dataclass, replace

from . import rollout_correction as rc
from .loss import (
    COV_LB,
    COV_RATIO,
    COV_SELECTIONS,
    COV_UB,
    DAPO_CLIP_HIGH,
    DAPO_CLIP_LOW,
    DAPO_DUAL_CLIP,
    ENTROPY_BONUS_OVER,
    KL_COV_COEF,
    NORMALIZERS,
    OBJECTIVES,
    policy_loss,
)
from .mask import RULES, SCOPES, SELECTIONS


@dataclass(frozen=True)
class Preset:
    name: str
    rule: str  # "topk" (authors' code) or "quantile" (TRL)
    scope: str  # "micro" (authors' code), "global" (TRL) or "local" (per sequence)
    normalizer: str  # train.loss.NORMALIZERS: "selected" (authors' code), "all" (paper formula), "sequence", "dr-grpo"
    rho: float = 0.2  # top 20 % highest-entropy tokens: the paper's main setting
    invert: bool = False  # True: bottom-ρ ablation
    clip_low: float = DAPO_CLIP_LOW  # DAPO ε_low
    clip_high: float = DAPO_CLIP_HIGH  # DAPO ε_high (clip-higher)
    dual_clip: float | None = DAPO_DUAL_CLIP  # dual clip c for A < 0 (the paper's runs)
    kl_coef: float = 0.0  # no KL term in the paper
    temperature: float = 1.0  # rollout temperature; entropy is taken at the same T
    selection: str = "entropy"  # train.mask.SELECTIONS: entropy (top-ρ; bottom-ρ with invert), random,
    # clip-cov / kl-cov (train.loss.COV_SELECTIONS within the top-ρ by entropy)
    objective: str = "dapo"  # train.loss.OBJECTIVES: dapo, gspo, cispo
    cov_ratio: float = COV_RATIO  # clip-cov / kl-cov: max(1, ⌊ratio·N⌋) tokens (Cui et al.; 2e-3 for their 7B)
    cov_lb: float = COV_LB  # clip-cov: candidates have cov_lb < cov < cov_ub
    cov_ub: float = COV_UB
    kl_cov_coef: float = KL_COV_COEF  # kl-cov: coefficient of |log r| (verl's example yaml uses 0.1)
    entropy_coef: float = 0.0  # entropy bonus: loss -= coef * mean H (off in every paper preset)
    entropy_over: str = "valid"  # the bonus's mean: over "valid" tokens or the "selected" ones
    adv_std_norm: bool = True  # advantages divided by the group std (GRPO/DAPO); False: Dr.GRPO
    max_response_tokens: int = 0  # the "dr-grpo" normaliser's constant length (the rollout's limit)
    rollout_correction: str = "none"  # train.rollout_correction.CORRECTIONS: none, tis (per token), mis (sequence)
    tis_cap: float = 2.0  # tis: weight min(π_old / μ, cap)
    mis_low: float = 0.5  # mis: keep sequences whose geometric-mean ratio π_old / μ is in [low, high]
    mis_high: float = 2.0

    def __post_init__(self):
        """Combinations that mean nothing are refused here (ValueError), never silently overridden."""
        for name, value, allowed in (
            ("selection", self.selection, SELECTIONS),
            ("objective", self.objective, OBJECTIVES),
            ("rule", self.rule, RULES),
            ("scope", self.scope, SCOPES),
            ("normalizer", self.normalizer, NORMALIZERS),
            ("entropy_over", self.entropy_over, ENTROPY_BONUS_OVER),
            ("rollout_correction", self.rollout_correction, rc.CORRECTIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
        if not 0.0 < self.rho <= 1.0:
            raise ValueError(f"rho must be in (0, 1], got {self.rho}")
        if self.selection in COV_SELECTIONS and self.objective != "dapo":
            raise ValueError(
                f"selection {self.selection} acts on the clipped surrogate: it needs objective dapo, "
                f"not {self.objective}"
            )
        if self.objective != "dapo" and self.dual_clip is not None:
            raise ValueError(
                f"dual_clip is part of the dapo objective; objective {self.objective} has none: set dual_clip 0"
            )
        if self.normalizer == "dr-grpo" and self.max_response_tokens < 1:
            raise ValueError("normalizer dr-grpo divides by max_response_tokens: set it (>= 1)")
        if not 0.0 < self.cov_ratio <= 1.0 or self.cov_lb >= self.cov_ub:
            raise ValueError(
                f"cov_ratio must be in (0, 1] and cov_lb < cov_ub, got {self.cov_ratio}, {self.cov_lb}, {self.cov_ub}"
            )
        if self.selection != "entropy" and self.invert:
            raise ValueError(f"invert (bottom-ρ by entropy) needs selection entropy, not {self.selection}")
        if self.tis_cap < 1.0 or not 0.0 < self.mis_low < 1.0 < self.mis_high:
            raise ValueError(
                f"tis_cap must be >= 1 and mis_low < 1 < mis_high, got {self.tis_cap}, {self.mis_low}, {self.mis_high}"
            )
        if self.selection == "random" and self.rule != "topk":
            raise ValueError(
                "selection random draws exactly ceil(ρN) tokens; rule quantile is an entropy threshold: set rule topk"
            )

    def mask(self, entropy, response_mask, group=None, seed=None):
        """(token mask, stats) of this preset's selection; `seed` (train.mask.selection_seed) for random."""
        return SELECTIONS[self.selection](
            entropy,
            response_mask,
            self.rho,
            rule=self.rule,
            scope=self.scope,
            invert=self.invert,
            group=group,
            seed=seed,
        )

    def loss(self, logprobs, old_logprobs, advantages, response_mask, entropy, **kw):
        """Mask with this preset's selection and ρ, then the policy loss. Returns (loss, metrics).
        Keywords as `masked_loss` (ref_logprobs, group, seed, sampler_logprobs, token_weights)."""
        loss, _, _, metrics = self.masked_loss(logprobs, old_logprobs, advantages, response_mask, entropy, **kw)
        return loss, metrics

    def masked_loss(
        self,
        logprobs,
        old_logprobs,
        advantages,
        response_mask,
        entropy,
        *,
        ref_logprobs=None,
        group=None,
        seed=None,
        sampler_logprobs=None,
        token_weights=None,
    ):
        """The policy loss on this preset's token mask: (loss, token mask, the mask's stats, metrics).
        `seed` feeds random draws (train.mask.selection_seed); `sampler_logprobs`: the sampler's log-probs of the
        tokens (backend vllm), for the mismatch metrics and the rollout correction; `token_weights`: weights
        computed elsewhere (TRL's own vLLM IS ratio), multiplying each token's loss."""
        token_mask, stats = self.mask(entropy, response_mask, group, seed)
        weights, dropped, valid = None, None, response_mask
        if sampler_logprobs is None and self.rollout_correction != "none":
            raise ValueError(f"rollout_correction {self.rollout_correction} needs the sampler's log-probs")
        if self.rollout_correction == "tis":
            weights = rc.token_weights(old_logprobs, sampler_logprobs, response_mask, cap=self.tis_cap)
        elif self.rollout_correction == "mis":
            keep = rc.sequence_keep(old_logprobs, sampler_logprobs, response_mask, low=self.mis_low, high=self.mis_high)
            dropped, valid = ~keep, (response_mask != 0) & keep[:, None]
        if token_weights is not None:
            weights = token_weights if weights is None else weights * token_weights
        loss, metrics = policy_loss(
            logprobs,
            old_logprobs,
            advantages,
            valid,
            token_weights=weights,
            token_mask=token_mask,
            clip_low=self.clip_low,
            clip_high=self.clip_high,
            dual_clip=self.dual_clip,
            normalizer=self.normalizer,
            ref_logprobs=ref_logprobs,
            kl_coef=self.kl_coef,
            entropy=entropy,
            objective=self.objective,
            cov=self.selection if self.selection in COV_SELECTIONS else None,
            cov_ratio=self.cov_ratio,
            cov_lb=self.cov_lb,
            cov_ub=self.cov_ub,
            kl_cov_coef=self.kl_cov_coef,
            seed=seed,
            max_response_tokens=self.max_response_tokens or None,
            entropy_coef=self.entropy_coef,
            entropy_over=self.entropy_over,
        )
        if sampler_logprobs is not None:
            metrics.update(
                rc.metrics(old_logprobs, sampler_logprobs, response_mask, token_mask, weights=weights, dropped=dropped)
            )
        metrics["rho"] = self.rho
        metrics["mask_threshold"] = stats["threshold"]
        metrics["mask_selected_fraction"] = stats["selected_fraction"]  # over the mask's scope
        return loss, token_mask, stats, metrics


PRESETS = {
    "paper-code": Preset("paper-code", rule="topk", scope="micro", normalizer="selected"),
    "paper-formula": Preset("paper-formula", rule="quantile", scope="global", normalizer="all"),
    "random": Preset("random", rule="topk", scope="micro", normalizer="selected", selection="random"),
    "clip-cov": Preset("clip-cov", rule="topk", scope="micro", normalizer="selected", rho=1.0, selection="clip-cov"),
    "kl-cov": Preset("kl-cov", rule="topk", scope="micro", normalizer="selected", rho=1.0, selection="kl-cov"),
    "gspo": Preset(
        "gspo",
        rule="topk",
        scope="micro",
        normalizer="sequence",
        rho=1.0,
        objective="gspo",
        clip_low=3e-4,
        clip_high=4e-4,
        dual_clip=None,
    ),
    "cispo": Preset(
        "cispo",
        rule="topk",
        scope="micro",
        normalizer="selected",
        rho=1.0,
        objective="cispo",
        clip_low=1.0,
        dual_clip=None,
    ),
    "dr-grpo": Preset(
        "dr-grpo",
        rule="topk",
        scope="micro",
        normalizer="dr-grpo",
        rho=1.0,
        adv_std_norm=False,
        max_response_tokens=20480,
    ),
}


def get_preset(name: str, **overrides) -> Preset:
    """A named preset, with fields overridden (e.g. rho=0.5, invert=True for the ablations)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)
