"""Writes grading_cases.jsonl: labelled (response, gold, correct) cases for the answer checker.

Hand-written, one category at a time; labels say what a careful, strict grader would decide (a
decimal that only approximates an irrational or repeating value is wrong: 0.3333 is not 1/3). When a
case is ambiguous it is left out rather than labelled to suit an implementation. Some cases carry an
expected `status` too (no_answer, error). Run: python tests/data/build_grading_cases.py
"""

import json
from pathlib import Path

C, W = True, False
LONG = "Let me think about this carefully. " * 40  # about 1,400 characters of reasoning

CASES: dict[str, list] = {
    "integers": [
        (r"\boxed{33}", "33", C), (r"\boxed{033}", "33", C), (r"\boxed{33}", "033", C), (r"\boxed{0}", "0", C),
        (r"\boxed{000}", "0", C), (r"\boxed{1,000}", "1000", C), (r"\boxed{1000}", "1,000", C), (r"\boxed{385.}", "385", C),
        (r"\boxed{385.0}", "385", C), (r"\boxed{12{,}345}", "12345", C), (r"\boxed{1\,000}", "1000", C),
        (r"\boxed{-7}", "-7", C), (r"\boxed{+7}", "7", C), (r"\boxed{7}", "-7", W), (r"\boxed{-0}", "0", C),
        (r"\boxed{ 204 }", "204", C), (r"$\boxed{204}$", "204", C), (r"\boxed{\textbf{204}}", "204", C),
        (r"\boxed{\text{204}}", "204", C), (r"\boxed{\mathbf{204}}", "204", C), (r"\boxed{25}", "025", C),
        (r"\boxed{5}", "005", C), (r"\boxed{1,000,000}", "1000000", C), (r"\boxed{999}", "999", C),
        (r"\boxed{10}", "1", W), (r"\boxed{1}", "10", W), (r"\boxed{100}", "10", W), (r"\boxed{3300}", "33", W),
        (r"\boxed{330}", "33", W), (r"\boxed{0.33}", "33", W), (r"\boxed{3.3}", "33", W), (r"\boxed{1,00}", "100", W),
        (r"\boxed{123456788}", "123456789", W), (r"\boxed{123456789}", "123456789", C), (r"\boxed{2^{10}}", "1024", C),
        (r"\boxed{10^3}", "1000", C), (r"\boxed{\dfrac{66}{2}}", "33", C), (r"\boxed{33}", 33, C), (r"\boxed{34}", 33, W),
        ("33", "33", C), ("$33$", "33", C), ("33.", "33", C), (r"\boxed{7}", "77", W), (r"\boxed{" + "9" * 60 + "}", "9" * 60, C),
        (r"\boxed{" + "9" * 60 + "}", "9" * 59 + "8", W), (r"\boxed{\$5}", "5", C), (r"\boxed{33}", r"\boxed{033}", C),
        (r"\boxed{33}", "$33$", C), (r"\boxed{5}", "#### 5", C),
    ],
    "boxed": [
        (r"The answer is $\boxed{\frac{1}{2}}$.", r"\frac12", C), (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt3}{2}", C),
        (r"so \boxed{{5}}", "5", C), (r"\boxed{\left(1, 2\right)}", "(1,2)", C), (r"\fbox{42}", "42", C),
        (r"\boxed {42}", "42", C), (r"\boxed 42", "42", C), (r"We get \boxed{2^{\frac{1}{2}}}", r"\sqrt{2}", C),
        (r"\boxed{\frac{a}{b}} where a=1", r"\frac{a}{b}", C), (r"$\boxed{\{1, 2\}}$", r"\{1,2\}", C),
        (r"\boxed{1} and then \boxed{2}", "2", C), (r"\boxed{1} and then \boxed{2}", "1", W),
        (r"\boxed{\boxed{7}}", "7", C), (r"Answer inside: \boxed{\text{7 apples}}", "7", C),
        (r"\boxed{x^{2}}", "x^2", C), (r"\boxed{\frac{1}{2}", r"\frac{1}{2}", W), (r"\boxed{}", "5", W),
        (r"\boxed{3} \[ \boxed{4} \]", "4", C), (r"Thus $\boxed{\dfrac{7}{3}}$", r"\frac{7}{3}", C),
        (r"The result: \boxed{\{2,3\}}", r"\{3,2\}", C), (r"\boxed{12}\text{ is the count}", "12", C),
    ],
    "think": [
        (r"<think>maybe \boxed{5}</think> The answer is \boxed{6}.", "6", C),
        (r"<think>maybe \boxed{5}</think> The answer is \boxed{6}.", "5", W),
        (r"<think>" + LONG + r"so 12</think>\n\n**Answer:** \boxed{12}", "12", C),
        (r"<think>\boxed{12}</think>", "12", W), (r"<think>\boxed{12}</think>I am not sure.", "12", W),
        (r"<think>a</think><think>b</think> \boxed{9}", "9", C), (r"</think>\boxed{9}", "9", C),
        (r"<think>" + LONG + r"</think>Final answer: 250", "250", C), (r"<think>" + LONG + r"</think>Final answer: 250", "25", W),
        (r"<think>x = 3</think> So $x = 4$.", "4", C), (r"<think>The answer is 7</think>\boxed{8}", "7", W),
        (r"<think>" + LONG + r"\boxed{44}", "44", C),
    ],
    "answer_line": [
        ("Let me compute.\nAnswer: 42", "42", C), ("Let me compute.\nAnswer: 42", "24", W), ("Answer: $\\frac{3}{4}$", "0.75", C),
        ("**Answer:** 17", "17", C), ("Final Answer: 17", "17", C), ("final answer: 17", "17", C), ("ANSWER: 17", "17", C),
        (LONG + "\nAnswer: 204", "204", C), (LONG + "\nAnswer: 204\n", "204", C), ("Answer:\n\n204", "204", C),
        ("Answer: 5\nAnswer: 6", "6", C), ("Answer: 5\nAnswer: 6", "5", W), (r"\boxed{5}" + "\nAnswer: 6", "6", C),
        (r"Answer: \boxed{6}", "6", C), ("Answer: $x = 3$", "3", C), ("Answer: 1,000", "1000", C),
        ("Final Answer: The final answer is $5$. I hope it is correct.", "5", C),
        ("Final Answer: The final answer is $\\frac{1}{3}$. I hope it is correct.", "1/3", C),
        ("Answer: (A)", "A", C), ("9 * 2 = 18\n#### 18", "18", C), ("9 * 2 = 18\n#### 18", "81", W), ("Answer: 12.", "12", C), ("Answer: -3", "-3", C), ("Answer: -3", "3", W),
    ],
    "phrases": [
        ("So the final answer is 18.", "18", C), ("So the final answer is 18.", "81", W), ("The answer is $\\sqrt{2}$.", r"\sqrt2", C),
        ("Therefore, the answer is 3.5.", "3.5", C), ("Therefore, the answer is 3.5.", "3", W), ("The final answer is: **91**", "91", C),
        (LONG + "Thus the final answer is 127.", "127", C), ("The answer is $\\$12.50$.", "12.5", C),
        ("Hence the answer is 6, as required.", "6", C), ("I believe the answer is $x=2$.", "2", C),
        ("The answer is \\(\\frac{5}{6}\\).", r"\frac56", C), ("The answer is \\[ 64 \\]", "64", C),
        ("Checking: \\boxed{12}. So the answer is correct.", "12", C), ("The answer is not 5; it is unknown", "5", W),
        ("The answer is 10. Wait, no, the answer is 12.", "12", C), ("The answer is 10. Wait, no, the answer is 12.", "10", W),
    ],
    "self_correction": [
        (r"\boxed{900} ... wait, that was wrong ... \boxed{902}", "902", C), (r"\boxed{900} ... wait ... \boxed{902}", "900", W),
        (r"First guess \boxed{1}. Recheck: \boxed{2}. Recheck again: \boxed{3}.", "3", C),
        (r"\boxed{3}. Hmm, actually it is \boxed{2}", "3", W), ("Answer: 10\nNo wait.\nAnswer: 11", "11", C),
        (r"I got \boxed{7}, but correcting an arithmetic slip gives \boxed{8}.", "8", C),
        (r"\boxed{7} ... Actually \boxed{8} ... no, \boxed{7}", "7", C), (r"\boxed{5}" + LONG + r"\boxed{6}", "5", W),
        (r"The answer is 4. Hmm, let me redo: the answer is 5.", "5", C),
    ],
    "fractions": [
        (r"\boxed{\frac{1}{2}}", "0.5", C), (r"\boxed{\frac12}", r"\frac{1}{2}", C), (r"\boxed{1/2}", r"\frac{1}{2}", C),
        (r"\boxed{\dfrac{2}{4}}", r"\frac12", C), (r"\boxed{\tfrac{3}{4}}", "3/4", C), (r"\boxed{-\frac{3}{4}}", r"\frac{-3}{4}", C),
        (r"\boxed{\frac{-3}{4}}", r"-\frac{3}{4}", C), (r"\boxed{\frac{3}{-4}}", "-0.75", C), (r"\boxed{\frac{3}{4}}", r"-\frac34", W),
        (r"\boxed{\frac{2}{3}}", r"\frac{3}{2}", W), (r"\boxed{\frac{1}{3}}", r"\frac{1}{4}", W), (r"\boxed{\frac{10}{4}}", r"\frac52", C),
        (r"\boxed{2\frac{1}{2}}", r"\frac52", C), (r"\boxed{\frac{7}{2}}", "3.5", C), (r"\boxed{\frac{22}{7}}", r"\pi", W),
        (r"\boxed{\frac{1}{2^{99}}}", r"\frac{1}{2^{98}}", W), (r"\boxed{1/2^{99}}", r"1/2^{98}", W),
        (r"\boxed{\frac{1}{2^{99}}}", r"2^{-99}", C), (r"\boxed{\frac{100}{3}}", r"33\frac{1}{3}", C),
        (r"\boxed{\frac{a}{2}}", r"\frac{1}{2}a", C), (r"\boxed{\frac{1}{x}}", "x^{-1}", C), (r"\boxed{\frac{x}{y}}", r"\frac{y}{x}", W),
        (r"\boxed{\frac{4}{6}}", r"\frac{2}{3}", C), (r"\boxed{\frac{1}{6}}", r"\frac{1}{5}", W), (r"\boxed{\frac{9}{10}}", "0.9", C),
        (r"\boxed{\frac{1}{1000}}", "0.001", C), (r"\boxed{\frac{1}{1000}}", "0.01", W), (r"\boxed{\frac{3}{7}}", r"\frac{6}{14}", C),
        (r"\boxed{\frac{\sqrt{2}}{2}}", r"\frac{1}{\sqrt{2}}", C), (r"\boxed{\frac{\sqrt{3}}{3}}", r"\frac{1}{\sqrt3}", C),
        (r"\boxed{\frac{\sqrt{3}}{3}}", r"\frac{1}{3}", W), (r"\boxed{\frac{5}{12}}", r"\frac{12}{5}", W),
    ],
    "decimals": [
        (r"\boxed{0.5}", "0.50", C), (r"\boxed{.5}", "0.5", C), (r"\boxed{2.50}", "2.5", C), (r"\boxed{2.05}", "2.5", W),
        (r"\boxed{3.14159}", r"\pi", W), (r"\boxed{3.14}", r"\pi", W), (r"\boxed{3}", r"\pi", W), (r"\boxed{1.4142}", r"\sqrt{2}", W),
        (r"\boxed{1.41}", r"\sqrt{2}", W), (r"\boxed{0.3333}", r"\frac13", W), (r"\boxed{0.33}", r"\frac13", W), (r"\boxed{0.3}", r"\frac13", W),
        (r"\boxed{0.6667}", r"\frac23", W), (r"\boxed{0.6666}", r"\frac23", W), (r"\boxed{0.125}", r"\frac18", C), (r"\boxed{0.12}", r"\frac18", W),
        (r"\boxed{1.5}", "1.50", C), (r"\boxed{1.5}", "15", W), (r"\boxed{0.15}", "1.5", W), (r"\boxed{1.5}", r"\frac{3}{2}", C),
        (r"\boxed{-0.25}", r"-\frac14", C), (r"\boxed{0.25}", r"-\frac14", W), (r"\boxed{2.718}", "e", W), (r"\boxed{2.71828}", "e", W),
        (r"\boxed{1.5 \times 10^{3}}", "1500", C), (r"\boxed{1.5 \times 10^{3}}", "150", W), (r"\boxed{0.0001}", "0.001", W),
        (r"\boxed{12.5}", r"\frac{25}{2}", C), (r"\boxed{12.50}", "12.5", C),
    ],
    "percent": [
        (r"\boxed{50\%}", "50", C), (r"\boxed{50\%}", r"\frac12", C), (r"\boxed{50\%}", "0.5", C), (r"\boxed{50}", r"50\%", C),
        (r"\boxed{0.5}", r"50\%", C), (r"\boxed{5\%}", "50", W), (r"\boxed{50\%}", "5", W), (r"\boxed{25\%}", r"\frac14", C),
        (r"\boxed{12.5\%}", "12.5", C), (r"\boxed{12.5\%}", "0.125", C), (r"\boxed{12.5\%}", "1.25", W), (r"\boxed{50 \text{ percent}}", "50", C),
        (r"\boxed{40\%}", r"60\%", W), (r"The answer is 20%.", "20", C), (r"\boxed{20\%}", "0.02", W),
    ],
    "degrees": [
        (r"\boxed{30^\circ}", "30", C), (r"\boxed{30^{\circ}}", "30", C), (r"\boxed{30°}", "30", C), (r"\boxed{30}", r"30^\circ", C),
        (r"\boxed{30^\circ}", "60", W), (r"\boxed{45^\circ}", r"\frac{\pi}{4}", C), (r"\boxed{60^\circ}", r"\frac{\pi}{4}", W),
        (r"\boxed{120 \text{ degrees}}", "120", C), (r"\boxed{90^\circ}", r"90^{\circ}", C), (r"\boxed{3^\circ}", "30", W),
    ],
    "units": [
        (r"\boxed{5 \text{ cm}}", "5", C), (r"\boxed{5\text{cm}}", "5", C), (r"\boxed{5 \text{ cm}^2}", "5", C), (r"\boxed{12 \mbox{ inches}}", "12", C),
        (r"\boxed{7 \text{ apples}}", "7", C), (r"\boxed{7 apples}", "7", C), (r"\boxed{\$18.90}", "18.90", C), (r"\boxed{\$18.90}", "18.9", C),
        (r"\boxed{5 \text{ cm}}", "6", W), (r"\boxed{15\text{ m}}", "1.5", W), (r"The total is \boxed{42 \text{ dollars}}.", "42", C),
        (r"\boxed{3 \text{ hours}}", "3", C), (r"\boxed{3 \mathrm{m}}", "3", C), (r"\boxed{2 \text{ days}}", "20", W),
    ],
    "intervals": [
        (r"\boxed{[1,2)}", "[1,2)", C), (r"\boxed{[1,2)}", "[1,2]", W), (r"\boxed{(1,2]}", "[1,2]", W), (r"\boxed{(1,2)}", "[1,2]", W),
        (r"\boxed{[1,2]}", "[1,2]", C), (r"\boxed{\left[1, 2\right]}", "[1,2]", C), (r"\boxed{(-\infty, 3]}", r"(-\infty,3]", C),
        (r"\boxed{(-\infty, 3)}", r"(-\infty,3]", W), (r"\boxed{(3, \infty)}", r"(3,\infty)", C), (r"\boxed{(-3, \infty)}", r"(3,\infty)", W),
        (r"\boxed{[1,2]\cup[3,4]}", r"[3,4]\cup[1,2]", C), (r"\boxed{[1,2]\cup[3,4]}", r"[1,2]\cup[3,5]", W),
        (r"\boxed{(-\infty,0)\cup(0,\infty)}", r"(-\infty, 0) \cup (0, \infty)", C), (r"\boxed{x > 5}", r"(5,\infty)", C),
        (r"\boxed{x \geq 5}", r"[5,\infty)", C), (r"\boxed{x \geq 5}", r"(5,\infty)", W), (r"\boxed{1 < x \le 3}", "(1,3]", C),
        (r"\boxed{1 < x < 3}", "(1,3]", W), (r"\boxed{[\frac12, 1]}", "[0.5,1]", C), (r"\boxed{(2,1)}", "(3,2)", W),
        (r"\boxed{x \in [1,2]}", "[1,2]", C), (r"\boxed{[0, 2\pi)}", r"[0,2\pi)", C), (r"\boxed{[0, \pi)}", r"[0,2\pi)", W),
    ],
    "sets": [
        (r"\boxed{\{1,2,3\}}", r"\{1,2,3\}", C), (r"\boxed{\{3,1,2\}}", r"\{1,2,3\}", C), (r"\boxed{1, 2, 3}", r"\{1,2,3\}", C),
        (r"\boxed{3, 2, 1}", "1,2,3", C), (r"\boxed{\{1,2\}}", r"\{1,2,3\}", W), (r"\boxed{\{1,2,4\}}", r"\{1,2,3\}", W),
        (r"\boxed{\{1,2,3,4\}}", r"\{1,2,3\}", W), (r"\boxed{\emptyset}", r"\varnothing", C), (r"\boxed{\emptyset}", r"\{0\}", W),
        (r"\boxed{\{-1, 1\}}", r"\pm 1", C), (r"\boxed{1 \pm \sqrt{2}}", r"1+\sqrt{2}, 1-\sqrt{2}", C),
        (r"\boxed{1 \pm \sqrt{2}}", r"1+\sqrt{2}", W), (r"\boxed{\{\frac12, 2\}}", r"\{2, 0.5\}", C), (r"\boxed{2, -3}", "-3, 2", C),
        (r"\boxed{2, 3}", "-3, 2", W), (r"\boxed{\lbrace 1, 2 \rbrace}", r"\{1,2\}", C), (r"\boxed{\{1,2\}}", "(1,2)", W),
    ],
    "tuples": [
        (r"\boxed{(1,2)}", "(1,2)", C), (r"\boxed{(2,1)}", "(1,2)", W), (r"\boxed{(1, 2, 3)}", "(1,2,3)", C), (r"\boxed{(1,3,2)}", "(1,2,3)", W),
        (r"\boxed{(1,2)}", "(1,2,3)", W), (r"\boxed{(\frac12, 3)}", "(0.5, 3)", C), (r"\boxed{(-1, 4)}", "(-1,4)", C), (r"\boxed{(1, -4)}", "(-1,4)", W),
        (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"(3, \frac{\pi}{2})", C), (r"\boxed{(3, \frac{\pi}{2})}", r"(3, \pi)", W),
        (r"\boxed{(0,0)}", "(0,0)", C), (r"\boxed{(0,1)}", "(1,0)", W), (r"\boxed{\langle 1, 2 \rangle}", "(1,2)", C),
        (r"\boxed{(1,2,3)}", r"\{1,2,3\}", W), (r"\boxed{(\sqrt{2}, 2)}", r"(\sqrt2, 2)", C),
    ],
    "matrices": [
        (r"\boxed{\begin{pmatrix}1&2\\3&4\end{pmatrix}}", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", C),
        (r"\boxed{\begin{bmatrix}1&2\\3&4\end{bmatrix}}", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", C),
        (r"\boxed{\begin{pmatrix}1&2\\3&5\end{pmatrix}}", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", W),
        (r"\boxed{\begin{pmatrix}1&3\\2&4\end{pmatrix}}", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", W),
        (r"\boxed{\begin{pmatrix}\frac12\\2\end{pmatrix}}", r"\begin{pmatrix}0.5\\2\end{pmatrix}", C),
        (r"\boxed{\begin{pmatrix}1\\2\end{pmatrix}}", r"\begin{pmatrix}1&2\end{pmatrix}", W),
        (r"\boxed{\begin{pmatrix}1&2\end{pmatrix}}", r"\begin{pmatrix}1&2&0\end{pmatrix}", W),
        (r"\boxed{\begin{pmatrix}\sqrt{4}&0\\0&1\end{pmatrix}}", r"\begin{pmatrix}2&0\\0&1\end{pmatrix}", C),
        (r"\boxed{\begin{pmatrix}2\\-1\end{pmatrix}}", r"\begin{pmatrix}2\\-1\end{pmatrix}", C),
        (r"\boxed{\begin{pmatrix}2\\1\end{pmatrix}}", r"\begin{pmatrix}2\\-1\end{pmatrix}", W),
    ],
    "equations": [
        (r"\boxed{x=3}", "3", C), (r"\boxed{x = 3}", "x=3", C), (r"\boxed{3}", "x=3", C), (r"\boxed{x=4}", "3", W), (r"\boxed{y=2x+1}", "y=2x+1", C),
        (r"\boxed{y = 1 + 2x}", "y=2x+1", C), (r"\boxed{2x - y = -1}", "y = 2x+1", C), (r"\boxed{y=2x+2}", "y=2x+1", W),
        (r"\boxed{y=2x+1}", "2x+1", C), (r"\boxed{x^2 + y^2 = 4}", "x^2+y^2=4", C), (r"\boxed{x^2 + y^2 = 4}", "x^2+y^2=2", W),
        (r"\boxed{k = \frac{1}{2}}", "0.5", C), (r"\boxed{a_1 = 5}", "5", C), (r"\boxed{x = 3, y = 4}", "x=3, y=4", C),
        (r"\boxed{x = 3, y = 4}", "x=4, y=3", W), (r"\boxed{x + 1 = 4}", "3", W), (r"\boxed{2x = 6}", "3", W),
        (r"\boxed{\theta = \frac{\pi}{3}}", r"\frac{\pi}{3}", C), (r"\boxed{x=2 \text{ or } x=3}", "2, 3", C),
        (r"\boxed{x=2 \text{ and } x=4}", "2, 3", W),
    ],
    "symbolic": [
        (r"\boxed{(x+1)^2}", "x^2+2x+1", C), (r"\boxed{x^2+2x+1}", "(x+1)^2", C), (r"\boxed{(x+1)^2}", "x^2+1", W),
        (r"\boxed{2\sqrt{3}}", r"\sqrt{12}", C), (r"\boxed{\sqrt{12}}", r"3\sqrt{2}", W), (r"\boxed{\sqrt{8}}", r"2\sqrt2", C),
        (r"\boxed{5\sqrt{2}}", r"\sqrt{50}", C), (r"\boxed{\sqrt{2}+\sqrt{3}}", r"\sqrt{3}+\sqrt{2}", C), (r"\boxed{\sqrt{2}+\sqrt{3}}", r"\sqrt{5}", W),
        (r"\boxed{\pi}", r"\pi", C), (r"\boxed{2\pi}", r"\pi", W), (r"\boxed{\frac{\pi}{2}}", r"\frac12\pi", C), (r"\boxed{\pi r^2}", r"r^2\pi", C),
        (r"\boxed{\sin^2 x + \cos^2 x}", "1", C), (r"\boxed{e^{\ln 2}}", "2", C), (r"\boxed{\log_2 8}", "3", C), (r"\boxed{\log_2 8}", "4", W),
        (r"\boxed{2xy}", "2yx", C), (r"\boxed{x^2}", "y^2", W), (r"\boxed{a+b}", "b+a", C), (r"\boxed{a-b}", "b-a", W),
        (r"\boxed{\frac{x^2-1}{x-1}}", "x+1", C), (r"\boxed{\binom{5}{2}}", "10", C), (r"\boxed{5!}", "120", C), (r"\boxed{5!}", "24", W),
        (r"\boxed{\infty}", r"\infty", C), (r"\boxed{-\infty}", r"\infty", W), (r"\boxed{2^{10}}", "1024", C), (r"\boxed{2^{10}}", "1023", W),
        (r"\boxed{\sqrt[3]{27}}", "3", C), (r"\boxed{27^{1/3}}", "3", C), (r"\boxed{|{-5}|}", "5", C), (r"\boxed{\cos\frac{\pi}{3}}", r"\frac12", C),
        (r"\boxed{\tan\frac{\pi}{4}}", "1", C), (r"\boxed{3x+2}", "3x-2", W), (r"\boxed{x(x+1)}", "x^2+x", C), (r"\boxed{2^{x+1}}", r"2\cdot 2^x", C),
        (r"\boxed{\frac{1+\sqrt{5}}{2}}", r"\frac{\sqrt5+1}{2}", C), (r"\boxed{\frac{1-\sqrt{5}}{2}}", r"\frac{1+\sqrt5}{2}", W),
        (r"\boxed{2\sqrt{2}-1}", r"\sqrt{8}-1", C), (r"\boxed{4\pi}", r"4 \pi", C), (r"\boxed{1-\frac{1}{2^{10}}}", r"\frac{1023}{1024}", C),
        (r"\boxed{\sqrt{2}}", r"2^{1/2}", C), (r"\boxed{\sqrt{2}}", r"2^{1/3}", W),
    ],
    "text_answers": [
        (r"\boxed{\text{(A)}}", "A", C), (r"\boxed{A}", "B", W), (r"\boxed{(C)}", "C", C), (r"\boxed{\text{Devon}}", "Devon", C),
        (r"\boxed{\text{Evan}}", "Vane", W), (r"\boxed{\text{odd}}", "odd", C), (r"\boxed{\text{even}}", "odd", W),
        (r"\boxed{\text{Yes}}", "yes", C), (r"\boxed{\text{No}}", "yes", W), (r"\boxed{E}", r"\text{(E)}", C), (r"\boxed{\textbf{(D)}}", "D", C),
    ],
    "bare_numbers": [
        ("After all the steps we get\n42", "42", C), ("After all the steps we get\n**42**", "42", C), ("After all the steps we get\n$42$", "42", C),
        ("We need to check 5 cases, so let us start", "5", W), ("x = 2 + 3 and then we continue with the rest of it", "5", W),
        ("The number of ways is quite large and equals 56 after computing", "56", W), ("56", "56", C), ("  56  ", "56", C),
        ("-12", "-12", C), ("$-\\frac{1}{2}$", "-0.5", C), ("x = 3", "3", C), ("\\frac{1}{2}", "0.5", C), ("(1, 2)", "(1,2)", C),
        ("[1,2)", "[1,2]", W),
    ],
    "near_misses": [
        (r"\boxed{34}", "33", W), (r"\boxed{32}", "33", W), (r"\boxed{3.3}", "33", W), (r"\boxed{33.1}", "33", W), (r"\boxed{33.01}", "33", W),
        (r"\boxed{-33}", "33", W), (r"\boxed{33^2}", "33", W), (r"\boxed{\sqrt{33}}", "33", W), (r"\boxed{33\pi}", "33", W),
        (r"\boxed{33x}", "33", W), (r"\boxed{\frac{33}{2}}", "33", W), (r"\boxed{\frac{1}{33}}", "33", W), (r"\boxed{330}", "033", W),
        (r"\boxed{3,300}", "33", W), (r"\boxed{33,000}", "33", W), (r"\boxed{0.033}", "33", W), (r"\boxed{1.0001}", "1", W),
        (r"\boxed{0.999}", "1", W), (r"\boxed{0.9999}", "1", W), (r"\boxed{999999}", "1000000", W), (r"\boxed{2^{100}}", "2^{101}", W),
        (r"\boxed{2^{100}+1}", "2^{100}", W), (r"\boxed{10^{20}}", "10^{20}+1", W), (r"\boxed{\frac{1}{2^{99}}}", "0", W),
        (r"\boxed{1.0000001}", "1", W), (r"\boxed{\frac{1}{10^{9}}}", "0", W), (r"\boxed{e}", r"\pi", W), (r"\boxed{\sqrt{3}}", r"\sqrt{2}", W),
        (r"\boxed{\frac{\pi}{3}}", r"\frac{\pi}{6}", W), (r"\boxed{x+1}", "x-1", W), (r"\boxed{x^3}", "x^2", W), (r"\boxed{3\sqrt{2}}", r"2\sqrt3", W),
        (r"\boxed{i}", "1", W), (r"\boxed{1}", "0", W), (r"\boxed{0}", r"\emptyset", W), (r"\boxed{12}", "21", W), (r"\boxed{1/2}", "2", W),
        (r"\boxed{7}", r"\frac{7}{100}", W), (r"\boxed{100}", "1", W), (r"\boxed{45}", r"\frac{\pi}{4}", W),
        (r"\boxed{x}", "y", W), (r"\boxed{\{1\}}", "1,1", W), (r"\boxed{1,1}", r"\{1\}", W),
    ],
    "box_lists": [
        (r"The roots are \boxed{4} and \boxed{-1}.", "-1, 4", C), (r"\boxed{(1, 5)}, \boxed{(5, 1)}", "(5,1),(1,5)", C),
        (r"\boxed{2} or \boxed{7}", "2, 7", C), (r"\boxed{4} and \boxed{-1}", "4", W), (r"\boxed{6} ... no wait, \boxed{8}", "6, 8", W),
        (r"\boxed{6} ... no wait, \boxed{8}", "8", C), (r"\boxed{3, 9}", r"\boxed{9} and \boxed{3}", C), (r"\boxed{3, 8}", r"\boxed{9} and \boxed{3}", W),
        (r"\boxed{a = 2} \quad \text{and} \quad \boxed{b = 5}", "a=2, b=5", C), (r"\boxed{a = 2} \quad \text{and} \quad \boxed{b = 5}", "a=5, b=2", W),
    ],
    "answer_sentences": [
        ("Hence $y \\le 3$ is the range.", r"(-\infty, 3]", C), ("Result \\[ 42 \\]", "42", C), ("Result $$ 7 $$", "8", W),
        ("Final Answer: The smallest $k$ is 17.", "17", C), ("Final Answer: The smallest $k$ is 17.", "71", W),
        ("Final Answer: Tom needs 6 more boxes.", "6", C), ("Final Answer: Tom needs 6 more boxes.", "7", W),
        (r"Partial sum \boxed{40}. Adding the rest, the final answer is $46$.", "46", C),
        (r"Partial sum \boxed{40}. Adding the rest, the final answer is $46$.", "40", W),
        (r"\boxed{15}", "We add the two parts: 7 + 8. The final answer is $15$.", C),
        (r"\boxed{16}", "We add the two parts: 7 + 8. The final answer is $15$.", W),
    ],
    "named_values": [
        (r"\boxed{(a,b)=(2,5)}", "(2,5)", C), (r"\boxed{(2,5)}", "(a, b) = (5, 2)", W), (r"\boxed{\frac{3}{7}}", r"\frac{PQ}{QR} = \frac{3}{7}", C),
        (r"\boxed{\frac{3}{8}}", r"\frac{PQ}{QR} = \frac{3}{7}", W), (r"\boxed{|CD| = 9}", "9", C), (r"\boxed{9}", "x + y = 9", W),
        (r"\boxed{5:9}", "A_1 : A_2 = 5:9", C), (r"\boxed{9:5}", "A_1 : A_2 = 5:9", W), (r"\boxed{4}", "g(t) = 4", C), (r"\boxed{4}", "3t = 4", W),
        (r"\boxed{10:00}", "3:00", W), (r"\boxed{\frac{5}{0}}", r"\frac{7}{0}", W), (r"\boxed{2:30}", "2:30", C),
    ],
    "equations_scaled": [
        (r"\boxed{3x + 6y = 9}", "x + 2y = 3", C), (r"\boxed{x + 2y = 4}", "x+2y=3", W), (r"\boxed{y = \frac{x}{3} + 1}", "x - 3y + 3 = 0", C),
        (r"\boxed{y = \frac{x}{3} - 1}", "x - 3y + 3 = 0", W), (r"\boxed{\frac{x^2}{8} + \frac{y^2}{2} = \frac{1}{2}}", r"\frac{x^2}{4} + y^2 = 1", C),
        (r"\boxed{x^2 + y^2 = 2}", r"\frac{x^2}{4} + y^2 = 1", W), (r"\boxed{x = 2y}", "x = 3y", W),
    ],
    "separators": [
        (r"\boxed{2,\!048}", "2048", C), (r"\boxed{5 000}", "5000", C), (r"\boxed{5 000}", "500", W), (r"\boxed{\$3,\!250.75}", "3250.75", C),
        (r"\boxed{\$3,\!250.75}", "3250.57", W), (r"\boxed{12 \textbf{ km}}", "12", C), (r"\boxed{48}", "$48$ inches", C), (r"\boxed{47}", "$48$ inches", W),
        (r"\boxed{-3; 0; 5}", "-3, 0, 5", C), (r"\boxed{-3; 0; 6}", "-3, 0, 5", W), (r"\boxed{(1; 2)}", "(1,2)", C), (r"\boxed{(1; 2)}", "(2,1)", W),
        (r"\boxed{(1,4)or(4,1)}", "(4,1),(1,4)", C), (r"\boxed{(1,4)or(4,2)}", "(4,1),(1,4)", W),
        ("$\\\\left(\\\\frac{1}{4}, 2\\\\right)$", "(0.25, 2)", C), ("$\\\\left(\\\\frac{1}{4}, 2\\\\right)$", "(0.5, 2)", W),
    ],
    "relations": [
        (r"\boxed{4 > y}", r"(-\infty, 4)", C), (r"\boxed{4 \geq y}", r"(-\infty, 4)", W), (r"\boxed{-t \le 2}", r"[-2, \infty)", C),
        (r"\boxed{-t \le 2}", r"(-\infty, -2]", W), (r"\boxed{(2, 5)}", "2<g(x)<5", C), (r"\boxed{[2, 5)}", "2<g(x)<5", W),
        (r"\boxed{1<x<3}", "(1,3)", C), (r"\boxed{1<x<3}", "[1,3]", W),
    ],
    "matrix_forms": [
        (r"\boxed{\begin{pmatrix} 1 & 0 \\ 0 & 2 \end{pmatrix}}", r"\begin{bmatrix}1&0\\0&2\end{bmatrix}", C),
        (r"\boxed{\begin{pmatrix} 1 & 0 \\ 0 & 3 \end{pmatrix}}", r"\begin{bmatrix}1&0\\0&2\end{bmatrix}", W),
        (r"\begin{pmatrix} 5 \\ 6 \end{pmatrix}", r"\begin{pmatrix}5\\6\end{pmatrix}", C),
        (r"\boxed{\begin{pmatrix}1\\2\end{pmatrix} + \begin{pmatrix}3\\4\end{pmatrix}}", r"\begin{pmatrix}4\\6\end{pmatrix}", C),
        (r"\boxed{\begin{pmatrix}1\\2\end{pmatrix} + \begin{pmatrix}3\\5\end{pmatrix}}", r"\begin{pmatrix}4\\6\end{pmatrix}", W),
    ],
    "plain_text_math": [  # gold or answer written as plain text / sympy-style source instead of LaTeX
        (r"\boxed{3\sin(2t) + 1}", "3*sin(2*t)+1", C), (r"\boxed{3\sin(2t) + 2}", "3*sin(2*t)+1", W),
        (r"\boxed{\frac{\ln y}{2}}", "ln(y)/2", C), (r"\boxed{\frac{\ln y}{3}}", "ln(y)/2", W),
        (r"\boxed{4\sqrt{3}}", "sqrt(48)", C), (r"\boxed{4\sqrt{2}}", "sqrt(48)", W), (r"\boxed{3\pi}", "3pi", C),
        (r"\boxed{3\pi}", "3 pi", C), (r"\boxed{\pi^2}", "3pi", W), ("\\boxed{6π}", r"6\pi", C),
        (r"\boxed{[2, \infty)}", "[2, infinity)", C), (r"\boxed{(2, \infty)}", "[2, infinity)", W),
        (r"\boxed{10^{-3}}", "10^-3", C), (r"\boxed{10^{3}}", "10^-3", W), (r"\boxed{e^{-x}}", "e^(-x)", C),
        (r"\boxed{\cos^2 u}", "1 - sin(u)^2", C), (r"\boxed{\cos u}", "1 - sin(u)^2", W),
        (r"\boxed{4s + 3}", "3 + 4*s", C), (r"\boxed{4c}", "4", W), (r"\boxed{7 - 7g}", "0", W), (r"\boxed{2h}", "2", W),
        (r"\boxed{\text{spin}}", "spin", C), (r"\boxed{5}", "pine", W),
    ],
    "scientific_notation": [
        (r"\boxed{2.5e3}", "2500", C), (r"\boxed{2.5E-2}", r"\frac{1}{40}", C), (r"\boxed{4e2}", "4000", W),
        (r"\boxed{-3e1}", "30", W), (r"\boxed{1e-3}", "1000", W), (r"\boxed{2e}", "2", W),
    ],
    "imaginary_unit": [
        (r"\boxed{(1+i)^2}", "2i", C), (r"\boxed{(1-i)^2}", "2i", W), (r"\boxed{\frac{1}{i}}", "-i", C),
        (r"\boxed{\frac{1}{i}}", "i", W), (r"\boxed{i^3 + 3}", "3 - i", C), (r"\boxed{x + i}", "x - i", W),
    ],
    "degrees_inside": [
        (r"\boxed{\cos(90^\circ - t)}", r"\sin t", C), (r"\boxed{\cos(90^{\circ} + t)}", r"\sin t", W),
        (r"\boxed{\tan 45^{\circ} + 1}", "2", C), (r"\boxed{\tan 45^{\circ} + 2}", "2", W),
    ],
    "nested_radicals": [  # constants simplify cannot settle in time: compared to 80 significant digits
        (r"\boxed{\frac{\sqrt{\sqrt{7}+\sqrt{31}}}{4\sqrt{5}+9}}", r"\frac{\sqrt{\sqrt{31}+\sqrt{7}}}{9+4\sqrt{5}}", C),
        (r"\boxed{\frac{\sqrt{\sqrt{7}+\sqrt{31}}}{4\sqrt{5}+8}}", r"\frac{\sqrt{\sqrt{31}+\sqrt{7}}}{9+4\sqrt{5}}", W),
        (r"\boxed{\sqrt{3}+\sqrt{5}}", r"\sqrt{8+2\sqrt{15}}", C), (r"\boxed{\sqrt{3}+\sqrt{5}}", r"\sqrt{8+2\sqrt{14}}", W),
        (r"\boxed{\frac{1}{3^{80}}}", r"\frac{1}{3^{81}}", W), (r"\boxed{3^{-150}}", "0", W),
        (r"\boxed{e^{\pi\sqrt{163}}}", "262537412640768744", W), (r"\boxed{\frac{\pi}{6}}", r"\arcsin\frac{1}{2}", C),
    ],
    "function_equations": [
        (r"\boxed{y = 3x - 1}", "g(x) = 3x - 1", C), (r"\boxed{y = 3x + 1}", "g(x) = 3x - 1", W),
        (r"\boxed{h(t) = t^2}", "y = t^2", C), (r"\boxed{x = 4}", "y = 4", W), (r"\boxed{f(t) = 2}", "f(x) = 2", W),
    ],
    "tuple_sets": [
        (r"\boxed{(1, 2), (2, 1), (1, 2)}", "(2,1),(1,2)", C), (r"\boxed{(1, 2), (1, 2)}", "(2,1),(1,2)", W),
        (r"\boxed{(1, 2), (3, 4), (2, 1)}", "(2,1),(1,2)", W), (r"\boxed{1, 1, 2}", "1, 2", W),
    ],
    "array_matrices": [
        (r"\boxed{\left[\begin{array}{cc} 2 & 0 \\ 1 & 5 \end{array}\right]}", r"\begin{bmatrix}2&0\\1&5\end{bmatrix}", C),
        (r"\boxed{\left(\begin{array}{c} 7 \\ 8 \end{array}\right)}", r"\begin{pmatrix}7\\8\end{pmatrix}", C),
        (r"\boxed{\left[\begin{array}{cc} 2 & 0 \\ 1 & 6 \end{array}\right]}", r"\begin{bmatrix}2&0\\1&5\end{bmatrix}", W),
    ],
    "no_answer": [
        ("", "5", W, "no_answer"), ("   \n  ", "5", W, "no_answer"), (None, "5", W, "no_answer"),
        ("I could not solve this problem because it is too hard for me to do today.", "5", W, "no_answer"),
        ("<think>long reasoning that never ends " + LONG, "5", W, "no_answer"), (r"<think>x</think>", "5", W, "no_answer"),
        (r"The answer is \boxed{", "5", W, "no_answer"), (LONG, "5", W, "no_answer"),
        ("Let me consider the cases one by one, starting with the first case.", "1", W, "no_answer"),
    ],
    "adversarial": [
        (r"\boxed{__import__('os').system('touch pwned')}", "0", W), (r"\boxed{eval('1+1')}", "2", W),
        (r"\boxed{exec(\"import os\")}", "0", W), (r"\boxed{lambda: 1}", "1", W), (r"\boxed{().__class__}", "0", W),
        (r"\boxed{10^{10^{10^{10}}}}", "5", W), (r"\boxed{9^{9^{9^{9}}}}", "1", W), ("\\boxed{" * 10000, "5", W, "no_answer"),
        ("{" * 10000 + r"\boxed{5}" + "}" * 10000, "5", C), (r"\boxed{" + "(" * 200 + "1" + ")" * 200 + "}", "1", C),
        ("\\boxed{5}" + "\x00\ufffd", "5", C), ("x" * 200000 + r"\boxed{7}", "7", C), (r"\boxed{5}", None, W, "error"),
        (12345, "12345", C), (b"\\boxed{5}", "5", C), (r"\boxed{\frac{1}{0}}", "0", W), (r"\boxed{0/0}", "0", W),
        (r"\boxed{1+1}", "__import__('os').system('touch pwned')", W),
    ],
}


def main() -> None:
    out = Path(__file__).with_name("grading_cases.jsonl")
    n = 0
    with out.open("w") as f:
        for category, cases in CASES.items():
            for i, case in enumerate(cases):
                response, gold, correct, *status = case
                row = {"id": f"{category}-{i}", "category": category, "response": response, "gold": gold, "correct": correct}
                if isinstance(response, bytes):
                    row["response"], row["response_is_bytes"] = response.decode(), True
                if status:
                    row["status"] = status[0]
                f.write(json.dumps(row) + "\n")
                n += 1
    print(f"wrote {n} cases to {out}")


if __name__ == "__main__":
    main()
