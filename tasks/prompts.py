"""What the model sees and where it stops: one rule for evaluation and training (no train/eval mismatch).

Both functions take any object shaped like a transformers tokenizer / generation config (duck-typed), so
`tasks` stays free of torch and transformers. `harness` (every eval backend) and `train` (every rollout
backend and the update) import these and nothing else for prompts and end-of-sequence ids;
tests/test_prompts.py checks that eval and training build the same ids for every task and template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tasks.errors import TaskError


@dataclass(frozen=True)
class PromptSwitches:
    """What a user sets around every prompt, for eval and training alike: a system message, and the chat
    template's keyword switches (`{"enable_thinking": false}` for Qwen3's hybrid models). The defaults change
    nothing: the template's own defaults, no system message."""

    system_prompt: str | None = None
    chat_template_kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.system_prompt is not None and not isinstance(self.system_prompt, str):
            raise TaskError(f"system prompt must be text (got {type(self.system_prompt).__name__})")
        kwargs = self.chat_template_kwargs
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise TaskError(f"chat template kwargs must be a JSON object with string keys (got {kwargs!r})")

    @classmethod
    def parse(cls, system_prompt: str | None, kwargs_json: str | None) -> PromptSwitches:
        """From the command line: TEXT and a JSON object ('{"enable_thinking": false}')."""
        kwargs = {}
        if kwargs_json:
            try:
                kwargs = json.loads(kwargs_json)
            except ValueError as exc:
                raise TaskError(f"chat template kwargs are not JSON ({exc}): {kwargs_json!r}") from None
        return cls(system_prompt, kwargs)

    @property
    def default(self) -> bool:
        return self.system_prompt is None and not self.chat_template_kwargs

    def record(self) -> dict:
        """What a run records (and hashes into its id when set)."""
        return {"system_prompt": self.system_prompt, "chat_template_kwargs": dict(self.chat_template_kwargs)}

    def messages(self, messages) -> list[dict]:
        """The conversation with the system message in front (replacing one the data brings)."""
        msgs = [dict(m) for m in messages]
        if self.system_prompt is None:
            return msgs
        return [{"role": "system", "content": self.system_prompt}] + [m for m in msgs if m.get("role") != "system"]


NO_SWITCHES = PromptSwitches()


def prompt_ids(tokenizer, messages, switches: PromptSwitches = NO_SWITCHES) -> list[int]:
    """The checkpoint's chat template around the messages, with the generation prompt appended, under
    `switches` (a system message, the template's keyword switches).

    A tokenizer without a chat template (a base model) gets the messages' contents joined by a blank
    line, with its usual special tokens (BOS), as the bare prompt it was pretrained on; template switches
    are then an error (there is no template to switch).
    """
    msgs = switches.messages(messages)
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            msgs, add_generation_prompt=True, tokenize=False, **switches.chat_template_kwargs
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if switches.chat_template_kwargs:
        raise TaskError("chat template kwargs need a chat template, and this tokenizer has none (a base model)")
    return list(tokenizer("\n\n".join(m["content"] for m in msgs))["input_ids"])


def user_prompt_ids(tokenizer, user_message: str, switches: PromptSwitches = NO_SWITCHES) -> list[int]:
    """`prompt_ids` of a single user message (every benchmark prompt)."""
    return prompt_ids(tokenizer, [{"role": "user", "content": user_message}], switches)


def eos_ids(generation_config, tokenizer) -> list[int]:
    """End-of-sequence ids: the checkpoint's generation config (one id or a list), else the tokenizer's eos.

    Instruct checkpoints often list several (`<|im_end|>` and `<|endoftext|>`); a sample ends at the
    first of any of them, in eval and in training alike.
    """
    eos = getattr(generation_config, "eos_token_id", None) if generation_config is not None else None
    eos = eos if eos is not None else tokenizer.eos_token_id
    return [e for e in (eos if isinstance(eos, list) else [eos]) if e is not None]
