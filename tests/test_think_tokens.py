"""Thinking vs answer tokens: per sample and budget, the tokens inside the thought and after it."""

from __future__ import annotations

import pytest

from harness.budgets import thought_length, thought_split
from tests import tiny_bpe


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_bpe.build(tmp_path_factory.mktemp("tok"), chat_template=tiny_bpe.CHAT))


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_the_thought_ends_at_its_close_tag(tok):
    thought, answer = "<think>We add 2 and 3.</think>", " The answer is 5."
    ids = _ids(tok, thought + answer)
    n = thought_length(ids, thought + answer, tok, prompt_opens=False)
    assert n == len(_ids(tok, thought)) and 0 < n < len(ids)
    assert thought_split(n, len(ids)) == (n, len(ids) - n)
    assert thought_split(n, n - 1) == (n - 1, 0)  # a cut inside the thought: all thought


def test_a_close_tag_that_is_one_token_is_found_by_its_id(tok):
    tok.add_tokens(["</think>"])
    text = "We add 2 and 3.</think> So 5."
    ids = _ids(tok, text)
    close = tok.convert_tokens_to_ids("</think>")
    assert close in ids
    assert thought_length(ids, text, tok, prompt_opens=False) == ids.index(close) + 1


@pytest.mark.parametrize(
    "text, opens, expected",
    [
        ("<think>still thinking", False, "all"),  # opened in the response, never closed
        ("still thinking", True, "all"),  # opened by the prompt (R1 distills), never closed
        ("The answer is 5.", False, 0),  # no thought at all
    ],
)
def test_an_open_or_absent_thought(tok, text, opens, expected):
    ids = _ids(tok, text)
    assert thought_length(ids, text, tok, prompt_opens=opens) == (len(ids) if expected == "all" else 0)


def test_unknown_stays_unknown():
    assert thought_split(None, 10) == (None, None)
