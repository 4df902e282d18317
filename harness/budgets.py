"""Several budgets from one generation.

Sampling the first B tokens does not depend on max_tokens, so a sample generated at the largest budget,
cut at B tokens, is distributed exactly like a sample generated at budget B. We generate once at the
largest budget and score each smaller budget by cutting the token ids, decoding and grading again. A
sample that did not end within B tokens counts as truncated at B (finish reason "length").
"""

from __future__ import annotations


def budget_list(budgets: list[int], curve_step: int | None) -> list[int]:
    """The requested budgets plus, with --budget-curve STEP, every multiple of STEP below the largest."""
    top = max(budgets)
    extra = range(curve_step, top, curve_step) if curve_step else []
    return sorted(set(budgets) | set(extra))


def cut(token_ids, text: str, finish_reason: str, budget: int, decode) -> dict:
    """The sample as it would have come out of a run with max_tokens=budget."""
    n = len(token_ids)
    if n <= budget:
        truncated = finish_reason != "stop"
        return {"text": text, "response_tokens": n, "truncated": truncated, "finish_reason": finish_reason}
    return {
        "text": decode(list(token_ids[:budget])),
        "response_tokens": budget,
        "truncated": True,
        "finish_reason": "length",
    }


def thought_split(think_full: int | None, tokens: int) -> tuple[int | None, int | None]:
    """(tokens inside the thought, tokens after it) of a sample cut to its first `tokens` tokens, from the
    thought's length in the whole sample (`think_full`: tokens up to and including `</think>`; the whole
    sample when the thought never closed; 0 for a response with no thought; None: not known)."""
    if think_full is None:
        return None, None
    think = min(think_full, tokens)
    return think, tokens - think


def thought_length(token_ids, text: str, tokenizer, prompt_opens: bool) -> int:
    """Tokens of a generated sample inside its thought: up to and including its last `</think>` (found as one
    token id where the tokenizer has one, else by tokenizing the text before it); all of them when the thought
    never closed (it opened in the response, or in the prompt: `prompt_opens`); 0 when there is no thought."""
    end = text.rfind("</think>")
    if end < 0:
        return len(token_ids) if (prompt_opens or "<think>" in text) else 0
    close = tokenizer.convert_tokens_to_ids("</think>") if hasattr(tokenizer, "convert_tokens_to_ids") else None
    if close is not None and close != getattr(tokenizer, "unk_token_id", None) and close in token_ids:
        return len(token_ids) - list(reversed(token_ids)).index(close)
    before = tokenizer(text[: end + len("</think>")], add_special_tokens=False)["input_ids"]
    return min(len(before), len(token_ids))
