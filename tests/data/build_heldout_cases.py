"""Writes heldout_cases.jsonl: a held-out agreement suite for the checker, from the facts (response, gold,
verdict) in other projects' public checker tests that this project had not used: UKGovernmentBEIS/inspect_ai
(tests/scorer/test_math.py and math_cases.json), inclusionAI/AReaL (areal/tests/test_math_verify_reward.py),
cklxx/slime (tests/test_math_reward_utils.py) and reward-kit 0.2.6 (tests/test_math.py). Cases were
re-typed, not copied; only clear-cut ones are kept (no float tolerances such as 1 vs 1.0001, no format
mutations such as `\\beginboxed`). Each row names its source. Run: python tests/data/build_heldout_cases.py
"""

import json
from pathlib import Path

C, W = True, False
CASES = {
    "inspect_ai": [
        (r"The answer is \boxed{42}", "42", C),
        (r"\boxed{\frac{1}{2}}", "0.5", C),
        (r"\boxed{42}", "43", W),
        ("The answer is 42", "42", C),
        (r"\boxed{\sqrt2}", r"$\sqrt{2}$", C),
        (r"\boxed{33.5\%}", "0.335", C),
        ("The answer is $$42$$", "42", C),
        (r"\boxed{\sqrt{\sqrt{2}}}", "2**(1/4)", C),
        (r"$\{1,2,3\}$", r"$\{3, 2, 1\}$", C),
        (r"$\left(1, 2\right)$", r"$\left(1, 2\right)$", C),
        (r"\boxed{1.5 \times 10^3}", "1500", C),
        (r"\boxed{x^2 - x^2}", "0", C),
        ("-1 + sqrt(3)", r"\sqrt{3} - 1", C),
        ("(3*sqrt(5))/7", r"\frac{3\sqrt{5}}{7}", C),
        (r"\left( 3, \frac{\pi}{2} \right)", r"\left(3,\frac{\pi}{2}\right)", C),
        (r"(-\infty,-8)\cup (8,\infty)", r"(-\infty,-8)\cup (8,\infty)", C),
        (
            r"\begin{pmatrix} 1/\sqrt{2} & 1/\sqrt{2} \\ -1/\sqrt{2} & 1/\sqrt{2} \end{pmatrix}",
            r"\begin{pmatrix} 1/\sqrt{2} & 1/\sqrt{2} \\ -1/\sqrt{2} & 1/\sqrt{2} \end{pmatrix}",
            C,
        ),
        ("odd $n$", "odd $n$", C),
        (r"2,3,\frac{3+i\sqrt{3}}{2},\frac{3-i\sqrt{3}}{2}", r"2,3,\frac{3+i\sqrt{3}}{2},\frac{3-i\sqrt{3}}{2}", C),
        (r"\boxed{\binom{2026}{1013}}", r"\binom{2026}{1013}", C),
        (r"\boxed{2024^{4046}}", "2024^{4046}", C),
        (r"\boxed{1/2004!}", "1/2004!", C),
        (r"\boxed{2^{2025}}", "3^{2025}", W),
        (r"\boxed{10\text{ cm}}", "10", C),
        (r"\boxed{\$15,\!000}", "15000", C),
        ("x=2", "2=x", C),
        ("x<2", "2>x", C),
        (r"\boxed{\;\angle APC = 74^\circ\;}", r"74^\circ", C),
        (r"\boxed{74°}", r"74^\circ", C),
        (r"\boxed{10} and then \boxed{42}", "42", C),
        (r"\boxed{10} and then \boxed{42}", r"\{10,42\}", W),
        (" ".join([r"\boxed{9}"] * 400) + r" \boxed{42}", "42", C),
        ("2", "x=2", C),
        ("2", "2=x", C),
        ("2", "z = 2", C),
        (r"\boxed{2^{2^{2^{49}}}}", "1", W),
        ("", "42", W),
        ("().__class__.__base__.__subclasses__()", "42", W),
        (r"The answer is \boxed{5}", "42", W),
        ("33.5%", "0.335", C),
        ("33.5 percent", "0.335", C),
        (r"\frac{1}{2}\%", "0.005", C),
        ("[]", "2", W),
        ("[0]", "2", W),
        ("(0, 1)", "2", W),
        ("(0, 1)", "(0, 1)", C),
        ("1,234", "1234", C),
        ("12,345,678", "12345678", C),
        ("1,234.5", "1234.5", C),
        ("-8,192", "-8192", C),
        ("(1,2)", "12", W),
        ("{1,2,3}", "12", W),
        ("[1,2]", "12", W),
        (r"1\,234", "1234", C),
        (r"12\,345\,678", "12345678", C),
        ("99999999999", "100000000000", W),
        ("100000000000000000000", "100000000001000000000", W),
        ("12345678901", "12345678902", W),
        ("0.5", "1/2", C),
        ("1.4142135623730951", r"\sqrt{2}", C),
        ("0.335", r"33.5\%", C),
        ("First compute the answer.\n1729", "1729", C),
        ("1234", "x=1234", C),
    ],
    "areal": [
        ("The answer is 4", "4", C),
        ("The answer is 0.5", "1/2", C),
        (r"Step 1: 2+2=4. \boxed{4}", "4", C),
        ("The answer is 5", "4", W),
        ("", "4", W),
    ],
    "slime": [
        ("Reasoning steps...\nAnswer: \\boxed{25}", "25", C),
        ("Here is the result.\nAnswer: 25", "25", C),
        ("25", "25", C),
        ("Answer: \\boxed{0}", 0, C),
    ],
    "reward_kit": [
        (r"The answer is \boxed{42}.", "42", C),
        (r"The answer is \boxed{1/2}.", "0.5", C),
        (r"The answer is \boxed{\frac{3}{4}}.", "0.75", C),
        (r"The answer is \boxed{A}.", "A", C),
        (r"The roots are \boxed{x=1 \text{ or } x=2}.", "1, 2", C),
        (r"The answer is \boxed{A}.", "B", W),
        (r"\boxed{wrong} then \boxed{right}", "right", C),
    ],
}


def main() -> None:
    out = Path(__file__).with_name("heldout_cases.jsonl")
    with out.open("w") as f:
        for source, cases in CASES.items():
            for i, (response, gold, correct) in enumerate(cases):
                f.write(
                    json.dumps(
                        {
                            "id": f"{source}-{i}",
                            "source": source,
                            "response": response,
                            "gold": gold,
                            "correct": correct,
                        }
                    )
                    + "\n"
                )
    print(f"{sum(map(len, CASES.values()))} cases -> {out}")


if __name__ == "__main__":
    main()
