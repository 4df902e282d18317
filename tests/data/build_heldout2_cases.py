"""Writes heldout2_cases.jsonl: a second, fresh held-out agreement suite for the checker's answer-shape rules.

Facts (response, gold, verdict) re-typed, not copied, from the public checker tests of projects this project had
not used before (Math-Verify, inspect_ai, AReaL, slime and reward-kit were used; so was lighteval's
test_extractive_match.py in effect, since Math-Verify's own suite grew out of it, and it is left out here):

- NVIDIA/NeMo-Skills: tests/test_math_equal.py (math_equal is asserted symmetric, so each pair is used both ways)
- EleutherAI/lm-evaluation-harness: tests/test_minerva_math.py (is_equiv, normalize_final_answer)
- allenai/open-instruct: open_instruct/test_ground_truth_utils.py (GSM8KVerifier, PuzzleMatcherVerifier)
- volcengine/verl: tests/utils/reward_score/test_numeric_canonicalization_on_cpu.py
- NovaSky-AI/SkyRL: skyrl-gym/tests/test_aime.py
- rllm-org/rllm: tests/rewards/test_math_reward.py, tests/rewards/test_math_utils.py
- scitix/sieval: tests/unit/community/test_matharena.py, test_deepseek_math.py, test_math_perturb.py,
  test_imo_bench.py, test_ugmathbench.py

An extraction fact ("the answer extracted from R is X") is re-typed as (R, X, correct). A normalisation fact
("N(a) == N(b)" or "N(a) keeps a tuple unfused") is re-typed as the verdict it implies.

Only clear-cut cases are kept. Skipped, by criteria fixed before the checker was run on this suite:
- float tolerances and approximations (5 vs 5.001, 2.3 vs 2.2892, 4^20 vs 1.09951162778E+12, golds with rounded
  coefficients or e written as 2.71828182845905);
- percent conventions, on which the projects disagree (10% vs 10 in NeMo-Skills, 50% vs 0.5 in DeepSeek-Math);
- choice letters, true/false labels and dataset spellings (C vs "C. x = 42", True vs Y), number words
  (\\text{forty-two} vs 42) and case-only or article-only text differences (Hello World vs hello world, "The
  elephant" vs elephant), which are each project's own text policy;
- a project's format rules rather than answer equality: a required <think> delimiter or box (rllm, sieval strict
  mode), a strict string match (SkyRL's 0.5 vs \\frac{1}{2} is wrong), "no symbolic algebra" (2+3 vs 5), last
  integer without its sign, stop words that cut a hallucinated next problem, unordered or multiset matching of
  answer lists, F1 partial scores, several golds at once;
- empty or missing golds (configuration errors, not verdicts), mixed numbers (918\\frac{1}{2}: 918.5 or 459),
  format artefacts (a trailing backslash, a doubled backslash before boxed), prose answers that need a judge,
  and tests that assert no verdict (a timeout test, "two paths agree" tests).
Pairs already present in grading_cases.jsonl or heldout_cases.jsonl are dropped (printed), so every row is new.
Each row names its source. Run: python tests/data/build_heldout2_cases.py
"""

import json
from pathlib import Path

C, W = True, False
HERE = Path(__file__).parent

# NeMo-Skills asserts math_equal(a, b) == math_equal(b, a) == verdict for every pair.
NEMO_SYMMETRIC = [
    ("5", "5", C),
    ("5", "5.0", C),
    ("1/2", "0.5", C),
    (r"\frac{1}{2}", "0.5", C),
    ("x^2+2x+1", "x^2 + 2*x + 1", C),
    ("x^2+2x+1", "x^2 + 2*x - (-1)", C),
    ("y = x^2+2x+1", "2x+ 1+x^2", C),
    ("odd", r"\text{odd}", C),
    ("E", r"\mathrm{E}", C),
    ("A", r"\textbf{A}", C),
    ("f'", "f'", C),
    (".185", "0.185", C),
    (r"\frac {1}{2}", "0.5", C),
    (r"17\text{ any text}", "17", C),
    (r"\$10", "10", C),
    ("2.5", r"\frac{5}{2}", C),
    (r"\frac{1}{3}", r"\dfrac{1}{3}", C),
    ("(r+5)(r+5)", "(r+5)^2", C),
    (r"\frac{\sqrt{3}}{3}", r"\frac{\sqrt{3}}{3} \approx 0.577", C),
    (
        r"\begin{pmatrix}0&0&0\\0&1&0\\0&0&1\end{pmatrix}",
        r"\begin{bmatrix} 0 & 0 & 0 \\ 0 & 1 & 0 \\ 0 & 0 & 1 \end{bmatrix}",
        C,
    ),
    ("x^2+2x+1", "x^3+2x+1", W),
    ("odd", r"\text{oddd}", W),
    ("E", r"\mathrm{E}*2", W),
    (r"\sqrt{67},-\sqrt{85}", r"\sqrt{67}", W),
]

MATRIX_COL = r"\begin{pmatrix}1\\2\end{pmatrix}"
CASES = {
    "nemo_skills": [case for a, b, v in NEMO_SYMMETRIC for case in ((a, b, v), (b, a, v))],
    "lm_eval_harness": [
        *[(a, a, C) for a in ["(2,4)", "(-1,2,3)", "[2,5)", r"(-\infty,3]", MATRIX_COL, "2", r"\frac{1}{2}", "x+1"]],
        (r"\text{east}", r"\text{east}", C),
        ("(2,4)", "(3,5)", W),
        ("[2,5)", "[2,6)", W),
        ("(2,4)", "(4,2)", W),
        (r"\text{east}", r"\text{west}", W),
        (r"\frac{1}{2}", "0.5", C),
        (r"\frac{1}{2}", "0.6", W),
        ("0, 1", "0,1", C),
        ("100,000", "100000", C),
        ("115,000", "115000", C),
        ("1,000", "1000", C),
        ("61,328", "61328", C),
        ("-1,024", "-1024", C),
        ("12,34", "1234", W),
        ("1234,5678", "12345678", W),
        ("3,5,7", "357", W),
        ("12,10,6", "12106", W),
        (r"\sqrt[3]{8}", "2", C),
        (r"\sqrt[3]2", r"\sqrt[3]{2}", C),
        (r"\sqrt[4]{16}", "2", C),
        (r"\sqrt8", r"2\sqrt{2}", C),
        (r"\sqrt[3]{2}+1", r"\sqrt[3]{2}+1", C),
        (r"\sqrt2", r"\sqrt{2}", C),
        (r"\sqrta", r"\sqrt{a}", C),
    ],
    "open_instruct": [
        ("Therefore the answer is -3", "-3", C),
        ("Therefore the answer is +7", "+7", C),
        ("Final answer: -3.5", "-3.5", C),
        ("Therefore the answer is 3", "-3", W),
        ("The answer is +7", "7", C),
        ("The answer is 42.0", "42", C),
        ("The answer is -3.0", "-3", C),
        ("42", "42", C),
        ("42", "43", W),
        ("<think>Let me think about this...</think>42", "42", C),
        ("<think>Analysis...</think>Wrong Answer", "42", W),
        ("<answer>42</answer>", "42", C),
        ("<answer>wrong</answer>", "42", W),
        ("<think>Thinking...</think><answer>42</answer>", "42", C),
        ("hello world", "hello world", C),
        ("<answer>hello world</answer>", "hello world", C),
        ("<think>Let me solve this step by step</think><answer>hello world</answer>", "hello world", C),
        ("hello", "world", W),
        ("", "42", W),
    ],
    "verl": [
        ("33", "033", C),
        ("33", "+033", C),
        ("0", "-0", C),
        ("0", "000", C),
    ],
    "skyrl": [
        (r"The answer is \boxed{42}", "42", C),
        ("The answer is 42", "42", C),
        (r"The answer is \boxed{43}", "42", W),
        (r"The answer is \boxed{\frac{1}{2}}", r"\frac{1}{2}", C),
    ],
    "rllm": [
        ("<think>2 + 2 = 4</think>\nThe answer is \\boxed{4}.", "4", C),
        ("<think>2 + 2 = 5</think>\nThe answer is \\boxed{5}.", "4", W),
        (
            "<think>Let me solve this quadratic equation</think>\nThe answer is \\boxed{x = 2, x = -3}.",
            "x = 2, x = -3",
            C,
        ),
        ("<think>Let me calculate this carefully</think>\nThe answer is \\boxed{24}.", r"\boxed{24}", C),
        ("<think>The answer is approximately pi</think>\nThe answer is \\boxed{3.14159}.", "3.14159", C),
        ("<think>Let me simplify this fraction</think>\nThe answer is \\boxed{\\frac{1}{2}}.", "1/2", C),
        ("<think>5 + 5 = 10</think>\nThe answer is \\boxed{10}.", "10", C),
        ("<think>5 + 5 = 11</think>\nThe answer is \\boxed{11}.", "10", W),
        ("<think>...</think>\nThe answer is \\boxed{42}.", "7", W),
        ("<think>...</think>\nThe answer is \\boxed{}.", "7", W),
        ("<think>...</think>\nThe answer is \\boxed{0}.", 0, C),
        ("<think>...</think>\nThe answer is \\boxed{0}.", r"\boxed{0}", C),
        ("42", "42", C),
        ("", "42", W),
    ],
    "sieval_matharena": [
        (r"first \boxed{42}, then \boxed{277}", "277", C),
        (r"\boxed{\frac{7}{2}}", r"\frac{7}{2}", C),
        (r"\boxed{\boxed{8\sqrt{6}}}", r"8\sqrt{6}", C),
        (r"\fbox{1230}", "1230", C),
        (r"\boxed{277} ... 99", "277", C),
        ("final answer is 156", "156", C),
        (r"Exact: \boxed{\sqrt{2}}, numerically \boxed{\approx 1.41421}", r"\sqrt{2}", C),
        (r"value is \boxed{\frac{1}{3}} \approx \boxed{0.333}", r"\frac{1}{3}", C),
        ("Working...\nThe roots are \\boxed{2} and \\boxed{3}.", "2,3", C),
        (r"Answer: \boxed{2,3}", "2,3", C),
        ("Scratch \\boxed{9}\nFinal: \\boxed{2} and \\boxed{3}", "2,3", C),
        (r"\boxed{42}", "42", C),
    ],
    "sieval_deepseek_math": [
        ("work\nFinal Answer: The final answer is $24$. I hope it is correct.", "24", C),
        (r"so $\boxed{7}$", "7", C),
        (r"thus $\boxed{[2,5)}$.", "[2,5)", C),
        ("x^{1/2}", r"\sqrt{x}", C),
        ("7(x-3)(x+3)", "7(x+3)(x-3)", C),
        (r"\frac{3\sqrt{20}}{5}", r"\frac{6\sqrt{5}}{5}", C),
        ("__import__('os').system('touch /tmp/heldout2-marker')", "1", W),
        ("not math at all", "1", W),
    ],
    "sieval_math_perturb": [
        ("\nThe answer is \n\\[ \\boxed{1 - \\sqrt[4]{x + 1}} \\]\n", r"1 - (x + 1)^{\frac14}", C),
        ("1/5120", "1/28800", W),
        ("18{,}234", "18234", C),
        ("\\boxed{\\sqrt{2}\u2003-\u20031}", r"\sqrt{2} - 1", C),
        (r"so \boxed {42}.", "42", C),
        ("x + x", "2*x", C),
        ("2, 3", "2, 3", C),
        ("2, 4", "2, 3", W),
        (r"\boxed{99} then \boxed{7}", "7", C),
        (r"\boxed{__import__('os').system('true')}", "42", W),
    ],
    "sieval_imo_bench": [
        ("3", "3", C),
        ("4", "3", W),
        ("0.5", r"\frac{1}{2}", C),
        ("red", "blue", W),
        (r"1+\sqrt{2}", r"$\sqrt{2}+1$", C),
        (r"2^{20} \cdot 3^{10}", "$12^{10}$", C),
        ("3^{25} + 1", "847288609444", C),
        (r"\left\{\frac{1}{2}, 1, 2\right\}", "1/2,1,2", C),
        (r"180^\circ - 2\alpha", r"$180 - 2\alpha$", C),
        (r"\frac{1}{2}x^2 - \frac{1}{2}x - 2", r"$A(x)=\frac{1}{2}(x^2-x-4)$", C),
        ("7", "5", W),
        ("f(x)=2x^3", "f(x)=2x^3+c", W),
        (r"\{1,2,4\}", r"\{1,2,3\}", W),
    ],
    "sieval_ugmathbench": [
        ("First \\boxed{1}. On reflection, \\boxed{2}.", "2", C),
        (r"So \boxed{\frac{1}{2}}", r"\frac{1}{2}", C),
        ("blah blah. The final answer is 42.", "42", C),
        (r"\boxed{\left(\frac{1}{2}\right)}", r"(\frac{1}{2})", C),
        (r"\boxed{\text{none}}", "none", C),
        (r"\frac{\sqrt{3}}{3}", "1/sqrt(3)", C),
        ("2", "1/sqrt(3)", W),
        ("x^3+2x^2+6", "x^3+2*x^2+6", C),
        ("x^3+2x^2+7", "x^3+2*x^2+6", W),
        ("T = 1.02x + 10", "T = 1.02*x+10", C),
        (r"(-\infty, 5)", "(-infinity,5)", C),
        (r"(-\infty, 5]", "(-infinity,5)", W),
        ("0", "none", W),
        ("(1, 2, 3, 6)", "(1, 2, 3, 6)", C),
        ("(2, 1, 3, 6)", "(1, 2, 3, 6)", W),
        ("\\frac{{{", "1", W),
        (r"7 \sin(\frac{\pi}{5}x) + 1", "7*sin(pi*x/5)+1", C),
        (r"a^x \ln a", "ln(a)*a^x", C),
        (r"7z - \cos z + 11", "7*z-cos(z)+11", C),
        (r"3\cos(2\sqrt{35}t)", "3*cos(sqrt(980/7)*t)", C),
        (r"\dfrac{8}{5 - 4\cos(q^2)}", "2*8/(2 + 1*8 - 1*8*cos(q^2))", C),
        (r"-162\pi", "-pi*2*9^2", C),
        (r"e^{-8x} \cos(9x)", "x^0*e^(-8*x)*cos(9*x)", C),
        ("5 - 5c", "-5*c+5*1", C),
        ("25/37", "0.657894736842105", W),
        ("x^2", "x^3", W),
        (r"\sin(x)", "cos(x)", W),
        (r"10\sqrt{2}", "5*[1+sqrt(2)]", W),
        ("162", "54", W),
        ("x+1", "t+1", W),
        ("e^{x}", "e^{2x}", W),
        (r"\frac{1}{x}", r"\frac{1}{x^2}", W),
        (r"(0, 2\cos x \sin x)", "(0,2*cos(x)*sin(x))", C),
        (
            r"Working through it... The final answers are \boxed{-\sqrt{3}, -1, \sqrt{3}, \frac{2\sqrt{3}}{3}, \sqrt{2}}",
            "-sqrt(3), -1, sqrt(3), 2/sqrt(3), sqrt(2)",
            C,
        ),
        ("__import__('os').system('touch /tmp/heldout2-marker')", "42", W),
        ("open('/tmp/heldout2-marker', 'w')", "42", W),
        ("eval(\"__import__('os').system('touch /tmp/heldout2-marker')\")", "42", W),
        ("sympify(\"__import__('os').system('touch /tmp/heldout2-marker')\")", "42", W),
        ("sin(pi/6)", "1/2", C),
        ("eval(chr(112))", "42", W),
        ("42'", "42'", C),
        ("9^9^9^9", "x+1", W),
        ("2^{2^{100}}", "x+1", W),
        ("2^100", "2**100", C),
        ("(x^2)^3", "x**6", C),
    ],
}


def _seen() -> set[tuple[str, str]]:
    """(response, gold) pairs of the suites this project already measured itself on."""
    pairs = set()
    for name in ("grading_cases.jsonl", "heldout_cases.jsonl"):
        for line in (HERE / name).open():
            row = json.loads(line)
            pairs.add((row["response"], str(row["gold"])))
    return pairs


def main() -> None:
    out = HERE / "heldout2_cases.jsonl"
    seen, kept, dropped = _seen(), set(), []
    with out.open("w") as f:
        for source, cases in CASES.items():
            for i, (response, gold, correct) in enumerate(cases):
                key = (response, str(gold))
                if key in seen or key in kept:
                    dropped.append(f"{source}-{i}")
                    continue
                kept.add(key)
                row = {"id": f"{source}-{i}", "source": source, "response": response, "gold": gold, "correct": correct}
                f.write(json.dumps(row) + "\n")
    print(f"{len(kept)} cases -> {out}; dropped as already used or repeated: {', '.join(dropped) or 'none'}")


if __name__ == "__main__":
    main()
