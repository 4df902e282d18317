"""tasks.quick_latex against latex2sympy, the parser it stands in front of: on every gold and extracted answer of
the checker's case files and on hand-written forms, whatever the quick parser accepts must be the same number
or expression latex2sympy builds (compared after sympy evaluates both), and what it refuses goes to latex2sympy."""

import json
from pathlib import Path

import pytest
import sympy
from latex2sympy2_extended import latex2sympy

from tasks import quick_latex
from tasks.equivalence import _CONVERT, _NORMALIZE, ascii_math
from tasks.extract import extract_answer
from tasks.normalize import clean
from tasks.structure import shape

DATA = Path(__file__).parent / "data"
FORMS = [
    "2x",
    "x^2y",
    "2^{10}",
    "\\sqrt{8}",
    "\\sqrt[3]{x}",
    "-x^2",
    "a b",
    "ab",
    "\\frac{x+1}{x-1}",
    "3\\cdot 4",
    "\\left(x+1\\right)^2",
    "2\\pi r",
    "\\frac{\\pi}{4}",
    "1+2+3",
    "x - y - z",
    "2/3/4",
    "(x+1)(x-1)",
    "x(x+1)",
    "\\dfrac{3}{4}",
    "\\tfrac{1}{2}\\sqrt{3}",
    "5\\sqrt{5}",
    "-\\frac{7}{2}",
    "x^n",
    "(2x)^3",
    "2^{x+1}",
    "\\pi/4",
    "4\\times 5",
    "-(-3)",
    "+7",
    "10^{-2}",
    "\\frac{2}{\\sqrt{3}}",
    "\\sqrt{\\sqrt{2}}",
    "3\\pi^2",
    "x^2-2x+1",
]
REFUSED = [
    "0.5",
    "e^x",
    "1+2i",
    "f(x)",
    "1/2x",
    "2^3^4",
    "2^-1",
    "\\sin x",
    "xyz",
    "max",
    "1,000",
    "10!",
    "A+B",
    "2^12",
    "\\frac12",
    "x^{",
    "",
    "3 \\%",
]


def leaves() -> set[str]:
    """The leaf texts the checker hands to its parser: golds and extracted answers, cleaned and split by shape."""
    texts = set(FORMS)
    for name in ("grading_cases.jsonl", "heldout_cases.jsonl", "heldout2_cases.jsonl"):
        for line in (DATA / name).read_text().splitlines():
            row = json.loads(line)
            for t in (row.get("gold"), row.get("response")):
                if isinstance(t, str):
                    texts.add(t)
                    extracted = extract_answer(t)
                    if extracted:
                        texts.add(extracted)
    out = set()

    def walk(node):
        if node.kind == "scalar":
            out.add(node.text)
        for child in getattr(node, "items", ()) or ():
            if hasattr(child, "kind"):
                walk(child)

    for t in texts:
        c = clean(t).text
        if c and len(c) < 300:
            try:
                walk(shape(c))
            except Exception:  # shape is the checker's own: a text it cannot split simply adds no leaf
                continue
    return out


def same(a, b) -> bool:
    a, b = sympy.nsimplify(a, rational=True), sympy.nsimplify(b, rational=True)
    return a == b or sympy.simplify(a - b) == 0


def test_what_it_accepts_latex2sympy_builds_the_same():
    accepted = 0
    for text in sorted(leaves()):
        t = ascii_math(text)
        quick = quick_latex.parse(t)
        if quick is None:
            continue
        accepted += 1
        slow = latex2sympy(t, normalization_config=_NORMALIZE, conversion_config=_CONVERT)
        assert same(quick, slow), (text, quick, slow)
        assert {s.name for s in quick.free_symbols} == {s.name for s in slow.free_symbols}, text
    assert accepted >= 100  # the subset is the common case, not a corner


@pytest.mark.parametrize("text", REFUSED)
def test_refuses_what_it_should_not_guess(text):
    assert quick_latex.parse(text) is None


def test_builds_unevaluated_so_the_size_guards_still_see_the_tower():
    from tasks.equivalence import too_big

    tower = quick_latex.parse("2^{10^{9}}")
    assert tower is not None and too_big(tower)
    assert too_big(quick_latex.parse("2^{1000000000}"))
    assert str(quick_latex.parse("1+2+3")) == "1 + 2 + 3"  # not 6: nothing evaluated at parse time
