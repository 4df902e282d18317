"""What the model sees and where it stops: one rule for evaluation and training (no train/eval mismatch).

Both functions take any object shaped like a transformers tokenizer / generation config (duck-typed), so
`tasks` stays free of torch and transformers. `harness` (every eval backend) and `train` (every rollout
backend and the update) import these and nothing else for prompts and end-of-sequence ids;
tests/test_prompts.py checks that eval and training build the same ids for every task and template.
"""

from __future__ import annotations


def prompt_ids(tokenizer, messages) -> list[int]:
    """The checkpoint's chat template around the messages, with the generation prompt appended.

    A tokenizer without a chat template (a base model) gets the messages' contents joined by a blank
    line, with its usual special tokens (BOS), as the bare prompt it was pretrained on.
    """
    msgs = [dict(m) for m in messages]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer("\n\n".join(m["content"] for m in msgs))["input_ids"])


def user_prompt_ids(tokenizer, user_message: str) -> list[int]:
    """`prompt_ids` of a single user message (every benchmark prompt)."""
    return prompt_ids(tokenizer, [{"role": "user", "content": user_message}])


def eos_ids(generation_config, tokenizer) -> list[int]:
    """End-of-sequence ids: the checkpoint's generation config (one id or a list), else the tokenizer's eos.

    Instruct checkpoints often list several (`<|im_end|>` and `<|endoftext|>`); a sample ends at the
    first of any of them, in eval and in training alike.
    """
    eos = getattr(generation_config, "eos_token_id", None) if generation_config is not None else None
    eos = eos if eos is not None else tokenizer.eos_token_id
    return [e for e in (eos if isinstance(eos, list) else [eos]) if e is not None]
