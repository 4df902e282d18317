"""Issue 23 part 3: answers a policy could game in RL. Each rule has cases that must be right and near misses
(cases that look alike but must stay wrong, or stay right), run through `tasks.grade`; and unit tests of
`tasks.extract.prepare_response`, the response-level preparation every reader of a response goes through."""

import random

import pytest

from tasks.extract import extract_answer, prepare_response

# ---- prepare_response ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, prepared",
    [
        ("42<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_start|>assistant\n\\boxed{5}", "42"),
        ("\\boxed{4}<|endoftext|>\\boxed{5}", "\\boxed{4}"),
        ("\\boxed{4}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\boxed{5}", "\\boxed{4}"),
        ("\\boxed{4}</s>[INST] again [/INST] \\boxed{5}", "\\boxed{4}"),
        ("\\boxed{4}<end_of_turn>\n<start_of_turn>model\n\\boxed{5}", "\\boxed{4}"),
        ("\\boxed{4}<\uff5cend\u2581of\u2581sentence\uff5c><\uff5cUser\uff5c>hi", "\\boxed{4}"),
        ("\\boxed{4}<eos>5", "\\boxed{4}"),
        ("<think>so 4</think> <answer>4</answer>", "<think>so 4</think> <answer>4</answer>"),  # not turn tokens
        ("<|begin_of_solution|> 4 <|end_of_solution|>", "<|begin_of_solution|> 4 <|end_of_solution|>"),
        ("\\boxed{4} <!-- \\boxed{5} --> done", "\\boxed{4}  done"),
        ("\\boxed{4} <!-- \\boxed{5}", "\\boxed{4} "),  # an unclosed comment hides the rest
        ("<!<!-- x -->-- \\boxed{5} --> 4", " 4"),  # kept halves that join into "<!--" open a comment too
        ("<|im_<!-- -->end|> \\boxed{5}", ""),  # and halves of a token end the turn
        ("\\boxed{4\u200b2}", "\\boxed{42}"),
        ("\ufeff4\u00ad2\u200c\u200d\u2060", "42"),
        ("\\boxed{\uff14\uff12}", "\\boxed{42}"),  # fullwidth
        ("\\boxed{\U0001d7d2\U0001d7d0}", "\\boxed{42}"),  # mathematical bold
        ("\\boxed{\U0001d7dc\U0001d7da} \U0001d7f0 \U0001d7fa", "\\boxed{42} 4 4"),  # double-struck, sans, monospace
        ("\u0664\u0662 \u06f4\u06f2 \u096a\u0968", "42 42 42"),  # Arabic-Indic, extended, Devanagari
        ("12 m\u00b2, x\u00b3, \u2461", "12 m\u00b2, x\u00b3, \u2461"),  # superscripts and circled digits stay
        ("plain \\boxed{42}", "plain \\boxed{42}"),
        ("", ""),
    ],
)
def test_prepare_response(text, prepared):
    assert prepare_response(text) == prepared
    assert prepare_response(prepared) == prepared


def test_prepare_response_is_idempotent_on_random_markup():
    alphabet = ["<", "!", "-", ">", "a", "<!--", "-->", "<|im_end|>", "\u200b", "\uff15", "|", "<|im_", "end|>", "s>"]
    rng = random.Random(23)
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        once = prepare_response(text)
        assert prepare_response(once) == once, text
        assert "<!--" not in once and "<|im_end|>" not in once and "\u200b" not in once, text


@pytest.mark.parametrize(
    "text",
    [
        "x" * 4_000_000,
        "<!--a-->" * 500_000,
        "<!--" * 1_000_000,
        "<!" * 2_000_000 + "--",
        "\u200b1" * 2_000_000,
        "\u0663" * 4_000_000,
        "<|im_" * 800_000,
    ],
)
def test_prepare_response_is_linear(text):
    import time

    start = time.perf_counter()
    prepare_response(text)
    assert time.perf_counter() - start < 3.0  # ~0.05-0.5 s on a shared core; quadratic would take minutes


def test_readers_prepare_the_response():
    assert extract_answer("\\boxed{\uff14\uff12}") == "42"
    assert extract_answer("\\boxed{7}<|im_end|>\n<|im_start|>user\nx<|im_start|>assistant\n\\boxed{5}") == "7"
    assert extract_answer("The answer is \\boxed{7}. <!-- \\boxed{5} -->") == "7"
