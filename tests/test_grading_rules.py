"""The checker's rules for answer shapes (the last side of an equation, one box per part, long decimals,
numbers in prose, Python-style math, other languages, ...), each with cases that must be right and the
near misses that must stay wrong; and the held-out agreement suite built from other projects' checker tests."""

import json
from pathlib import Path

import pytest

from tasks.grading import grade, grade_batch, warm_up

C, W = True, False
LONG = "After adding all the pieces together carefully we find the total comes to\n"
RULES = {
    "chain_last_side": [
        (r"\boxed{m+n=371}", "371", C),
        ("Answer: m+n = 256+37 = 293", "293", C),
        (r"so \boxed{x = 5}", "5", C),
        (r"\boxed{a_1 + a_2 = 12}", "12", C),
        (r"\boxed{m+n=371}", "372", W),
        (r"\boxed{2x = 6}", "6", W),
        (r"\boxed{x + 1 = 5}", "5", W),
        (r"\boxed{x^2 = 25}", "25", W),
        ("Answer: m+n = 256+37 = 293", "256", W),
        (r"\boxed{m + n = 2k + 1}", "1", W),
        (r"\boxed{x = 5}", "x = 5", C),
    ],
    "gold_equation_either_side": [("2", "2=x", C), ("2", "x=2", C), ("3", "2=x", W), ("2", "2=3", W)],
    "multi_part_boxes": [
        (r"(a) The first part gives \boxed{3}. (b) The second part gives \boxed{5}.", "3, 5", C),
        ("**Part 1:** ... \\boxed{10}\n**Part 2:** ... \\boxed{-2}", "10, -2", C),
        (r"(a) \boxed{3} (b) \boxed{6}", "3, 5", W),
        (r"\boxed{3} hmm, no: \boxed{5}", "3, 5", W),
        (r"(a) \boxed{3} (a) \boxed{5}", "3, 5", W),
        (r"\boxed{25} or \boxed{30}", "25", W),
        (r"(a) \boxed{5} (b) \boxed{3}", "3, 5", W),
    ],
    "long_decimals": [
        (r"\boxed{\sqrt{17}}", "4.123105625617661", C),
        (r"\boxed{4.123105625617661}", r"\sqrt{17}", C),
        (r"\boxed{0.0833333333333333}", r"\frac{1}{12}", C),
        (r"\boxed{\frac{1}{12}}", "0.0833333333333333", C),
        (r"\boxed{1.4142135623730951}", r"\sqrt{2}", C),
        (r"\boxed{0.08}", r"\frac{1}{12}", W),
        (r"\boxed{0.0833}", r"\frac{1}{12}", W),
        (r"\boxed{0.083333333}", r"\frac{1}{12}", W),
        (r"\boxed{4.123105625617662}", r"\sqrt{17}", W),
        (r"\boxed{4.12}", r"\sqrt{17}", W),
        (r"\boxed{0.0833333333333334}", "0.0833333333333333", W),
        (r"\boxed{1.0000001}", "1", W),
        (r"\boxed{3.141592653589793}", r"\pi", C),
        (r"\boxed{3.141592653589794}", r"\pi", W),
    ],
    "prose_numbers": [
        (LONG + "1.5e3", "1500", C),
        (LONG + "1.5e3", "1.5", W),
        (LONG + "1,000.99€", "1000.99", C),
        (LONG + "1,000.99€", "1000", W),
        (LONG + "12 m²", "12", C),
        (LONG + "12 m²", "13", W),
        (LONG + "$5", "5", C),
        (LONG + "2.5E-4", "0.00025", C),
        (LONG + "2.5E-4", "2.5", W),
    ],
    "special_tokens_and_tags": [
        ("42<|im_end|>", "42", C),
        (r"\boxed{42}<|endoftext|>", "42", C),
        ("42<|im_end|>", "43", W),
        ("<think>it is 41</think><answer>42</answer>", "42", C),
        ("<think>it is 42</think><answer>41</answer>", "42", W),
        ("<answer>The answer is \\boxed{7}</answer>", "7", C),
        ("<answer>7</answer>", "77", W),
        (r"\boxed{42}</s>", "42", C),
    ],
    "python_style_math": [
        (r"\boxed{x**2 + 2*x + 1}", "(x+1)^2", C),
        (r"\boxed{x**2 + 2*x + 1}", "(x+1)^3", W),
        (r"\boxed{(x + 1)(x + 1)}", "x^2+2x+1", C),
        (r"\boxed{(x + 1)(x - 1)}", "x^2+2x+1", W),
        (r"\boxed{log(x, 10)}", r"\log_{10}(x)", C),
        (r"\boxed{log(x, 10)}", r"\log_{2}(x)", W),
        (r"\boxed{xyz}", "x*y*z", C),
        (r"\boxed{xyz}", "x+y+z", W),
        (r"\boxed{2**(1/4)}", r"\sqrt{\sqrt{2}}", C),
        (r"\boxed{2**(1/3)}", r"\sqrt{\sqrt{2}}", W),
    ],
    "other_languages": [
        ("所以答案是 92。", "92", C),
        ("最终答案：92", "92", C),
        ("Réponse : 92", "92", C),
        ("La réponse est 92.", "92", C),
        ("Die Antwort ist 92.", "92", C),
        ("Ответ: 92", "92", C),
        ("Thus the total is **92**.", "92", C),
        ("所以答案是 93。", "92", W),
        ("Ответ: 29", "92", W),
        ("Thus the total is **93**.", "92", W),
        ("La réponse est 92.", "29", W),
    ],
    "aime_shaped": [
        ("so \\boxed{m+n = 25 + 48 = 73}", "73", C),
        ("Answer: $m+n=073$", "73", C),
        ("\\boxed{073}<|im_end|>", "73", C),
        ("so \\boxed{m+n = 25 + 48 = 73}", "74", W),
        ("(a) \\boxed{3} (b) \\boxed{5}", "35", W),
    ],
    "approximation_box": [
        (r"Exact: \boxed{\sqrt{2}}, numerically \boxed{\approx 1.41421}", r"\sqrt{2}", C),
        (r"Exact: \boxed{\sqrt{2}}, numerically \boxed{\approx 1.41421}", "1.41421", C),
        (r"so \boxed{\frac{1}{3}} \approx \boxed{0.333}", r"\frac{1}{3}", C),
        (r"\boxed{\pi \approx 3.14}", r"\pi", C),
        (r"\boxed{\frac{2}{3}} \approx \boxed{0.667}", r"\frac{2}{3}", C),
        (r"so \boxed{\frac{1}{3}} \approx \boxed{0.5}", r"\frac{1}{3}", W),
        (r"\boxed{2 \approx 3}", "2", W),
        (r"\boxed{\sqrt{2} \approx 1.7}", r"\sqrt{2}", W),
        (r"\boxed{3} hmm, no: \boxed{\approx 5}", "3", W),
        (r"so \boxed{\frac{1}{3}} \approx \boxed{0.333}", "0.34", W),
        (r"\boxed{\approx 1.41421}", r"\sqrt{2}", W),
    ],
    "indexed_root_short_argument": [
        (r"\boxed{\sqrt[3]2}", r"\sqrt[3]{2}", C),
        (r"\boxed{\sqrt[4]x}", r"x^{1/4}", C),
        (r"\boxed{\sqrt[3]27}", r"7\sqrt[3]{2}", C),
        (r"\boxed{\sqrt[3]2}", r"\sqrt{2}", W),
        (r"\boxed{\sqrt[3]27}", "3", W),
        (r"\boxed{\sqrt[3]3}", r"\sqrt[3]{2}", W),
    ],
}
ROWS = [(rule, *case) for rule, cases in RULES.items() for case in cases]


@pytest.fixture(scope="module")
def verdicts():
    warm_up()
    return grade_batch([r[1] for r in ROWS], [r[2] for r in ROWS], timeout=30.0)


@pytest.mark.parametrize("i", range(len(ROWS)), ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_rule_case(verdicts, i):
    rule, response, gold, correct = ROWS[i]
    assert verdicts[i].correct is correct, (rule, response, gold, verdicts[i])


def test_every_rule_has_true_and_near_miss_cases():
    for rule, cases in RULES.items():
        assert {c[2] for c in cases} == {True, False}, rule


@pytest.mark.parametrize("suite", ["heldout_cases.jsonl", "heldout2_cases.jsonl"])
def test_held_out_suite_agrees(suite):
    """tests/data/heldout_cases.jsonl and heldout2_cases.jsonl (sources: tests/data/build_heldout*_cases.py).

    heldout2's held-out figure, measured before any fix, is 98.5 % (tests/data/heldout2_before.md); after the
    approximation-box and indexed-root rules it is 100 %, with no false positive either time."""
    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / suite).open()]
    assert len(rows) >= 79
    warm_up()
    out = grade_batch([r["response"] for r in rows], [r["gold"] for r in rows], timeout=30.0)
    wrong = [(r["id"], g.status) for r, g in zip(rows, out) if g.correct is not r["correct"]]
    assert not [w for w in wrong if dict(zip(["id", "s"], w))["s"] == "correct"], wrong  # no false positive
    assert not wrong


# ---- integer tasks ask for an integer ---------------------------------------------------------------------
# The CPU study's models learned to answer "Compute 2 * 7. Give the result as an integer." with
# "Here's the answer: 2 * 7.", which the free-form rules grade equal to 14 (results/study_cpu_hacked/README.md).


@pytest.mark.parametrize(
    "response, gold, right",
    [
        ("Here's the answer: 2 * 7.", "14", False),  # the question restated: no integer stated
        ("Answer: 28/2", "14", False),
        (r"\boxed{\frac{28}{2}}", "14", False),
        (r"\boxed{2^{10}}", "1024", False),
        ("Answer: 14", "14", True),
        ("Answer: 2 * 7 = 14", "14", True),  # a chain whose last side is the integer states it
        (r"\boxed{x = 14}", "14", True),
        (r"The answer is $\boxed{014}$.", "14", True),
        ("Answer: 14.0", "14", True),
        ("Answer: 1,000", "1000", True),
        ("Answer: 15", "14", False),
        ("Answer: 2 * 7 = 15", "14", False),
    ],
)
def test_an_integer_task_wants_an_integer(response, gold, right):
    from tasks.grading import INTEGER

    assert grade(response, gold, config=INTEGER).correct is right


def test_config_for_picks_the_rules_by_kind():
    from tasks.grading import DEFAULT, INTEGER, config_for

    assert config_for("integer") is INTEGER and config_for("free") is DEFAULT


def test_free_tasks_keep_reading_expressions():
    assert grade("Here's the answer: 2 * 7.", "14").correct  # MATH-style golds: an equal expression is equal
    assert grade(r"\boxed{2^{10}}", "1024").correct
