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
