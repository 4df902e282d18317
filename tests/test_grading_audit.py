"""Answers a policy could game in RL. Each rule has cases that must be right and near misses
(cases that look alike but must stay wrong, or stay right), run through `tasks.grade`; and unit tests of
`tasks.extract.prepare_response`, the response-level preparation every reader of a response goes through."""

import random

import pytest

from tasks.extract import extract_answer, prepare_response
from tasks.grading import INTEGER, GradeConfig, grade, grade_batch, warm_up

C, W = True, False
TURN = "<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_start|>assistant\n"

# rule -> [(response, gold, correct)], graded with the default (free-form) rules
RULES = {
    "turn_tokens_and_hidden_text": [
        (r"\boxed{4}" + TURN + r"\boxed{5}", "5", W),  # a fabricated next turn carries no answer
        (r"\boxed{4}" + TURN + r"\boxed{5}", "4", C),
        (TURN + r"\boxed{5}", "5", W),
        (r"\boxed{4}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\boxed{5}", "5", W),
        ("\\boxed{4}<\uff5cend\u2581of\u2581sentence\uff5c><\uff5cUser\uff5c>\\boxed{5}", "5", W),
        (r"\boxed{4} <!-- \boxed{5} -->", "5", W),
        (r"\boxed{4} <!-- \boxed{5} -->", "4", C),
        (r"\boxed{4} <!-- \boxed{5}", "5", W),
        (r"<think>maybe \boxed{5}</think> so \boxed{4}", "4", C),  # <think> is no turn token
        (r"<answer>\boxed{4}</answer><|im_end|>", "4", C),
    ],
    "format_examples": [
        (r"Put your final answer in \boxed{}, for example \boxed{42}.", "42", W),
        (r"I will answer in the form \boxed{5}.", "5", W),
        (r"e.g. $\boxed{5}$", "5", W),
        (r"(for instance, \(\boxed{42}\))", "42", W),
        (r"The answer should be formatted as \boxed{5}", "5", W),
        (r"Such as \boxed{\frac{1}{2}}", r"\frac{1}{2}", W),
        (r"I should write the answer like \boxed{}.", "5", W),
        (r"The answer goes in the form \boxed{...}.", "...", W),
        (r"Put your answer in \boxed{}", "5", W),
        (r"such as \boxed{\frac{1}{2}}, so the answer is \boxed{\frac{1}{3}}", r"\frac{1}{2}", W),
        (r"such as \boxed{\frac{1}{2}}, so the answer is \boxed{\frac{1}{3}}", r"\frac{1}{3}", C),
        ("Format: Answer: 5", "5", W),
        ("I'll use the format: Answer: 5", "5", W),
        ("For example:\nAnswer: 5", "5", W),
        ("For example, the answer is 5.", "5", W),
        (r"The answer is \boxed{}.", "7", W),
        # the last real box, line or phrase still counts
        (r"Put your answer in \boxed{}. Solving: 3+4 = 7, so \boxed{7}", "7", C),
        (r"So \boxed{7}. (I was asked to put the answer in \boxed{}, e.g. \boxed{42}.)", "7", C),
        (r"So \boxed{7}. (I was asked to put the answer in \boxed{}, e.g. \boxed{42}.)", "42", W),
        (r"The answer is \boxed{7}. Put your answer in \boxed{}", "7", C),
        (r"The answer, for example when n=3, is \boxed{7}", "7", C),
        (r"For example, with n = 3 we get \boxed{7}", "7", C),
        (r"Here is the answer in the required format: \boxed{7}", "7", C),
        ("Here is the answer in the required format:\nAnswer: 7", "7", C),
        ("In the requested format: Answer: 7", "7", C),
        (r"It looks like \boxed{7}", "7", C),
        (r"We can write it as \boxed{7}.", "7", C),
        (r"\boxed{7} and then in \boxed{}", "7", C),
        ("Answer: 7\n(format: e.g. Answer: 42)", "7", C),
    ],
    "percent": [
        (r"\boxed{50\%}", r"\frac{1}{2}", C),
        (r"\boxed{50\%}", "0.5", C),
        (r"\boxed{50}", r"50\%", C),  # a gold percentage: its number or its fraction, as before
        (r"\boxed{0.5}", r"50\%", C),
        (r"\boxed{50\%}", r"50\%", C),
        (r"\boxed{0.5\%}", "0.005", C),
        (r"\boxed{50\%}", r"0.5\%", W),  # two percentages are compared as percentages, not crosswise
        (r"\boxed{0.5\%}", r"50\%", W),
        (r"\boxed{50\%}", "5", W),
        (r"\boxed{5\%}", "0.5", W),
    ],
    "false_equation": [
        (r"\boxed{3 = 5}", "5", W),
        (r"\boxed{2+2=5}", "5", W),
        (r"\boxed{x = 3 = 5}", "5", W),
        (r"\boxed{x = \sqrt{8} = 3\sqrt{2}}", r"3\sqrt{2}", W),
        (r"\boxed{x = \frac{6}{4} = \frac{2}{3}}", r"\frac{2}{3}", W),
        (r"\boxed{x = \sqrt{8} = 2\sqrt{2}}", r"2\sqrt{2}", C),  # a true chain sympy proves in the workers
        (r"\boxed{x = \frac{6}{4} = \frac{3}{2}}", r"\frac{3}{2}", C),
        (r"\boxed{2+2=4}", "4", C),
        ("Answer: m+n = 256+37 = 293", "293", C),
        (r"\boxed{m+n=371}", "371", C),
    ],
    "repeating_decimals": [
        (r"\boxed{0.\overline{3}}", r"\frac{1}{3}", C),
        (r"\boxed{0.1\overline{6}}", r"\frac{1}{6}", C),
        (r"\boxed{1.\overline{27}}", r"\frac{14}{11}", C),
        (r"\boxed{0.\bar{3}}", r"\frac{1}{3}", C),
        (r"\boxed{\frac{1}{3}}", r"0.\overline{3}", C),
        (r"\boxed{0.\overline{3}}", "0.3333", W),
        (r"\boxed{0.\overline{3}}", r"\frac{3}{10}", W),
        (r"\boxed{0.3333}", r"0.\overline{3}", W),
        (r"\boxed{0.\overline{16}}", r"\frac{1}{6}", W),
        (r"\boxed{1.2\overline{7}}", r"\frac{14}{11}", W),
    ],
    "prose_in_a_box": [
        (r"\boxed{\text{The answer is } 73}", "73", C),
        (r"\boxed{\text{73 apples}}", "73", C),
        (r"\boxed{\text{The value of } x \text{ is } 5}", "5", C),
        (r"\boxed{\text{Devon}}", "Devon", C),
        (r"\boxed{\text{no solution}}", r"\text{no solution}", C),  # a box of only words stays words
        (r"\boxed{\text{no solution}}", "0", W),
        (r"\boxed{\text{The answer is } 73}", "74", W),
        (r"\boxed{\text{either 5 or it is } 6}", "6", W),  # two numbers: a hedge, not one value
        (r"\boxed{\text{The answer is not } 73}", "73", W),
        (r"\boxed{\text{It is } 73 \text{ or } 74}", "73", W),
        (r"\boxed{\text{more than } 3 \text{ ways}}", "3", W),  # a bound is not the value
        (r"\boxed{\text{The answer is at most } 3}", "3", W),
        (r"\boxed{\text{The answer: } 73}", "73", C),
    ],
    "unicode_digits": [
        ("\\boxed{\uff14\uff12}", "42", C),  # fullwidth
        ("\\boxed{\U0001d7d2\U0001d7d0}", "42", C),  # mathematical bold
        ("\\boxed{\u0664\u0662}", "42", C),  # Arabic-Indic
        ("\\boxed{4\u200b2}", "42", C),
        ("\\boxed{\\frac{\uff11}{\uff12}}", "0.5", C),
        ("\\boxed{42}", "\uff14\uff12", C),  # the gold is prepared too
        ("\\boxed{\uff14\uff13}", "42", W),
        ("\\boxed{4\u200b3}", "42", W),
        ("\\boxed{4\u00b2}", "42", W),  # a superscript is a power, not a digit
        ("\\boxed{\u2463\u2461}", "42", W),  # circled digits are no decimal digits
    ],
    "plain_text_math": [
        ("The answer is sqrt(2)/2.", r"\frac{\sqrt{2}}{2}", C),
        (r"\boxed{x**2 + 1}", "x^2 + 1", C),
        (r"\boxed{2^(1/3)}", r"\sqrt[3]{2}", C),
        (r"\boxed{log(x, 10)}", r"\log_{10} x", C),
        (r"\boxed{ln(6)}", r"\ln 6", C),
        (r"\boxed{arcsin(x)}", r"\arcsin x", C),
        (r"\boxed{factorial(n)}", "n!", C),
        (r"\boxed{factorial(5)}", "120", C),
        (r"\boxed{pi/4}", r"\frac{\pi}{4}", C),
        (r"\boxed{e^(2x)}", "e^{2x}", C),
        (r"\boxed{1/sqrt(3)}", r"\frac{\sqrt{3}}{3}", C),
        (r"\boxed{2**10}", "1024", C),
        (r"\boxed{(1+sqrt(5))/2}", r"\frac{1+\sqrt{5}}{2}", C),
        (r"\boxed{sqrt(3)/2}", r"\frac{\sqrt{2}}{2}", W),
        (r"\boxed{2^(1/2)}", r"\sqrt[3]{2}", W),
        (r"\boxed{log(x, 2)}", r"\log_{10} x", W),
        (r"\boxed{factorial(n)}", "(n+1)!", W),
        (r"\boxed{factorial(4)}", "120", W),
        (r"\boxed{e^(2x)}", "e^{2}x", W),
        (r"\boxed{2**10}", "20", W),
        (r"\boxed{x**2 + 1}", "x^2 - 1", W),
        (r"\boxed{ln(6)}", r"\log_{10} 6", W),
        (r"\boxed{arcsin(x)}", r"\arccos x", W),
        (r"\boxed{pi/4}", r"\frac{\pi}{3}", W),
    ],
}
STEPS_EXAMPLE = (
    "Example: Compute (7 + 5) * 2. Give the result as an integer.\nFirst add 5 to 7: 7 + 5 = 12.\n"
    "Then multiply 12 by 2: 12 * 2 = 24.\nAnswer: 24"
)
# the same rules on integer tasks (AIME: the gold is an integer, an answer must state one)
INTEGER_RULES = {
    "false_equation": [
        (r"\boxed{2+2=5}", "5", W),
        (r"\boxed{m+n = 25+48 = 74}", "74", W),
        (r"\boxed{5! = 121}", "121", W),
        ("Answer: 7 \\cdot 6 = 43", "43", W),
        (r"\boxed{2^{10} = 1000}", "1000", W),
        (r"\boxed{m+n = \sqrt{3} + 1 = 2}", "2", W),  # not plain arithmetic: not checked in the parent, not read
        (r"\boxed{m+n = 25+48 = 73}", "73", C),
        (r"\boxed{5! = 120}", "120", C),
        ("Answer: 7 \\cdot 6 = 42", "42", C),
        (r"\boxed{\binom{6}{2} = 15}", "15", C),
        (r"\boxed{m+n = \frac{3}{4} \cdot 100 = 75}", "75", C),
        (r"\boxed{x = \sqrt{144} = 12}", "12", C),
    ],
    "answer_line_justification": [
        ("Answer: 42 (since 6 \\cdot 7 = 42)", "42", C),
        ("Answer: 42 (mod 1000)", "42", C),
        ("Answer: 42 \\pmod{1000}", "42", C),
        ("Answer: 42 (because 40 + 2 = 42).", "42", C),
        ("Answer: $42$ (from the table above)", "42", C),
        ("Answer: 42 (or 43)", "42", W),  # a hedge stays a hedge
        ("Answer: 42 (or 43)", "43", W),
        ("Answer: 42 (43)", "42", W),
        ("Answer: 42 (by symmetry, or -42)", "42", W),
        ("Answer: 42 (since 6 \\cdot 7 = 42)", "6", W),
        ("Answer: 42 (since 6 \\cdot 7 = 42)", "7", W),
    ],
    "format_examples": [
        (r"Put your final answer in \boxed{}, for example \boxed{42}.", "42", W),
        ("The answer format is: Answer: 42", "42", W),
        (STEPS_EXAMPLE, "24", W),  # the "steps" template's worked example restated, and nothing of its own
        (STEPS_EXAMPLE + "\n\nNow: Compute 3 * 8.\nMultiply 3 by 8: 3 * 8 = 24.\nAnswer: 24", "24", C),
        (STEPS_EXAMPLE + "\n\nNow: Compute 3 * 5.\nMultiply 3 by 5: 3 * 5 = 15.\nAnswer: 15", "24", W),
        ("First add 5 to 7: 7 + 5 = 12.\nAnswer: 12", "12", C),
        (r"So \boxed{7}. (I was asked to put the answer in \boxed{}, e.g. \boxed{42}.)", "7", C),
        (r"The answer, for example when n=3, is \boxed{7}", "7", C),
    ],
    "unicode_digits": [
        ("\\boxed{\U0001d7dc\U0001d7da}", "42", C),  # double-struck
        ("Answer: \u06f4\u06f2", "42", C),  # extended Arabic-Indic
        ("\\boxed{\uff10\uff17\uff13}", "73", C),
        ("\\boxed{\ufeff7\u00ad3}", "73", C),
        ("\\boxed{\uff17\uff14}", "73", W),
        ("\\boxed{7\u00b3}", "73", W),
    ],
    "prose_in_a_box": [
        (r"\boxed{\text{The answer is } 73}", "73", C),
        (r"\boxed{\text{73 apples}}", "73", C),
        (r"\boxed{\text{The answer is } 72 + 1}", "73", W),
        (r"\boxed{\text{about } 73}", "73", W),
    ],
}
ROWS = [(rule, *case) for rule, cases in RULES.items() for case in cases]
INTEGER_ROWS = [(rule, *case) for rule, cases in INTEGER_RULES.items() for case in cases]


@pytest.fixture(scope="module")
def verdicts():
    warm_up()
    free = grade_batch([r[1] for r in ROWS], [r[2] for r in ROWS], timeout=30.0)
    integer = grade_batch([r[1] for r in INTEGER_ROWS], [r[2] for r in INTEGER_ROWS], timeout=30.0, config=INTEGER)
    return free, integer


@pytest.mark.parametrize("i", range(len(ROWS)), ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_rule_case(verdicts, i):
    rule, response, gold, correct = ROWS[i]
    assert verdicts[0][i].correct is correct, (rule, response, gold, verdicts[0][i])


@pytest.mark.parametrize("i", range(len(INTEGER_ROWS)), ids=[f"{r[0]}-{i}" for i, r in enumerate(INTEGER_ROWS)])
def test_integer_rule_case(verdicts, i):
    rule, response, gold, correct = INTEGER_ROWS[i]
    assert verdicts[1][i].correct is correct, (rule, response, gold, verdicts[1][i])


def test_every_rule_has_right_and_near_miss_cases():
    for rules in (RULES, INTEGER_RULES):
        for rule, cases in rules.items():
            assert {c[2] for c in cases} == {True, False}, rule


def test_grade_checks_one_at_a_time_too():
    """grade() and grade_batch() agree (the batch runs the same _settle and workers)."""
    assert grade(r"\boxed{3 = 5}", "5", timeout=30.0).correct is False
    assert grade("Answer: 42 (mod 1000)", "42", config=INTEGER).correct is True
    assert grade(r"e.g. \boxed{5}", "5", config=GradeConfig(last_number="any")).status == "no_answer"


def test_strict_percent_rule():
    """PERCENT_MATCHES_BARE_GOLD is False: a predicted percentage is only its fraction, so "50%" is not the gold
    "50" (see the switch's comment)."""
    from tasks import equivalence

    assert not equivalence.PERCENT_MATCHES_BARE_GOLD
    assert not equivalence.leaf_equal(r"50\%", "50")
    assert not equivalence.leaf_equal(r"33.33333333333\%", r"\frac{100}{3}")
    assert equivalence.leaf_equal(r"50\%", "0.5") and equivalence.leaf_equal(r"50\%", r"\frac{1}{2}")
    assert equivalence.leaf_equal("50", r"50\%") and equivalence.leaf_equal("0.5", r"50\%")
    assert equivalence.leaf_equal(r"50\%", r"50\%") and not equivalence.leaf_equal(r"50\%", r"0.5\%")


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
@pytest.mark.timeout(120)  # the backstop: linear work takes well under a second here, a quadratic pass hours
def test_prepare_response_is_linear(text):
    once = prepare_response(text)
    assert prepare_response(once) == once and len(once) <= len(text)


def test_readers_prepare_the_response():
    assert extract_answer("\\boxed{\uff14\uff12}") == "42"
    assert extract_answer("\\boxed{7}<|im_end|>\n<|im_start|>user\nx<|im_start|>assistant\n\\boxed{5}") == "7"
    assert extract_answer("The answer is \\boxed{7}. <!-- \\boxed{5} -->") == "7"
