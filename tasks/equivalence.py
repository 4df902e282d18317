"""Is a predicted answer equal to the gold one? The sympy half of the checker.

Imported only inside the worker processes (tasks/workers.py), never in the parent: it loads sympy,
and sympy work on hostile input may hang or explode, so it runs where it can be killed. Model text
reaches sympy only through latex2sympy2_extended, which builds expressions from a grammar and never
evaluates Python (unlike `sympify`/`parse_expr`, which this module never calls).

Shapes are compared first (tasks/structure.py), then each pair of leaves: plain numbers exactly
(decimals included: 0.3333 is not 1/3), percentages as p or p/100, degrees as d or d*pi/180, words
as words, and everything else as a - b == 0 proven exactly (expand, cancel, then simplify). Expressions in
variables are first evaluated at a few points: a clear difference at one point settles "not equal" without
simplify (most wrong answers), agreement only sends the pair on to the exact proof. When unsure the answer
is "not equal".
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

import sympy
from latex2sympy2_extended import NormalizationConfig, latex2sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig

from tasks import quick_latex
from tasks.normalize import (
    APPROX,
    WORD,
    chain_value,
    clean,
    decimal_states,
    long_decimal,
    number_text,
    plain_number,
    rounds_to,
)
from tasks.structure import Shape, is_name, peel_parens, shape

_NORMALIZE = NormalizationConfig(
    basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="none", equations=False
)
_CONVERT = ConversionConfig(interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False)
_MATH_WORDS = re.compile(
    r"\\?(?:sqrt|frac|sin|cos|tan|cot|sec|csc|log|ln|exp|pi|infty|cdot|times|arcsin|arccos|arctan|sinh|cosh|tanh|text|mathrm|mbox|begin|end|pmatrix|bmatrix|matrix|vmatrix|left|right|emptyset|varnothing|dots|ldots|cdots|circ|infinity|factorial)"
)
# Whether a predicted percentage matches a gold answer that is its bare number ("50\\%" for the gold "50"), as well
# as its fraction ("50\\%" for "0.5"). False (issue 23's audit): a percentage is 1/100 of its number, so "50%"
# would hedge between 50 and 0.5; it states the bare number only against a gold that is a percentage too. The cost:
# MATH golds that drop the sign ("What percent ...?" with the gold "50") no longer take "50\\%".
PERCENT_MATCHES_BARE_GOLD = False
MAX_NODES = 400
MAX_EXPONENT = 10_000


# ---- parsing ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def to_sympy(latex: str):
    """The expression for a LaTeX leaf, or None when the grammar rejects it (an unparseable answer).
    Cached: answers repeat within a group of samples, and sympy expressions are immutable."""
    text = ascii_math(latex)
    quick = quick_latex.parse(text)  # the plain subset without the ANTLR parser (tasks/quick_latex.py)
    if quick is not None:
        return quick
    try:
        return latex2sympy(text, normalization_config=_NORMALIZE, conversion_config=_CONVERT)
    except Exception:  # the parser signals "not LaTeX math" with assorted exception types
        return None


_ASCII_NAME = re.compile(
    r"(?<![\\a-zA-Z])(arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|cot|sec|csc|ln|log|exp|sqrt|pi|infinity|infty)(?![a-zA-Z])"
)
_LOG_BASE = re.compile(r"\\log\s*\(([^(),]+),\s*([^(),]+)\)")
_SIGNED_EXPONENT = re.compile(r"\^\s*([+-])\s*(\d+(?:\.\d+)?|[a-zA-Z])(?![\d.])")  # 10^-2 -> 10^{-2}
_DEGREE_MARK = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|°")


def ascii_math(text: str) -> str:
    """Plain-text math spelled as LaTeX: `sin(x)`, `ln(a)`, `pi`, `sqrt(2)`, `infinity`, `10^-2`, `2^(1/3)`,
    `x**2`, `factorial(n)`, `log(x, 10)`.

    Whole words only (`spin` and `\\pi` stay as they are); `sqrt(...)` and `^(...)` get braces, which the
    grammar needs; `factorial(n)` is `(n)!`. Nothing is evaluated: the result goes to the same LaTeX grammar
    as any answer.
    """
    text = _PY_POWER.sub(r"^{\1}", text).replace("**", "^")  # Python's power: x**10 is x^{10}, not x^1 0
    if not re.search(r"[a-zA-Z^]", text):
        return text
    text = _ASCII_NAME.sub(lambda m: "\\infty" if m.group(1) == "infinity" else "\\" + m.group(1), text)
    text = _LOG_BASE.sub(r"\\log_{\2}(\1)", text)  # log(x, 10): the base second, as sympy and Python write it
    text = _SIGNED_EXPONENT.sub(r"^{\1\2}", text)
    text = _rewrite_calls(text, "\\sqrt(", lambda inner: "\\sqrt{" + inner + "}")
    text = _rewrite_calls(text, "^(", lambda inner: "^{" + inner + "}")
    if "factorial" in text:
        text = _FACTORIAL.sub("factorial(", text)
        text = _rewrite_calls(text, "factorial(", lambda inner: "(" + inner + ")!")
    return text


_PY_POWER = re.compile(r"\*\*\s*(\d+(?:\.\d+)?|[a-zA-Z])(?![\w.(])")
_FACTORIAL = re.compile(r"(?<![\\a-zA-Z])factorial\s*\(")


def _rewrite_calls(text: str, opener: str, rewrite) -> str:
    """Each `opener...)` (`opener` ends in "(") with its balanced parenthesised argument passed through `rewrite`;
    an opener whose parenthesis never closes is left as it is. Nested calls (sqrt(sqrt(2))) take one more pass
    each, up to MAX_CALL_DEPTH."""
    for _ in range(MAX_CALL_DEPTH):
        out, i = [], 0
        while True:
            j = text.find(opener, i)
            if j < 0:
                break
            depth, k = 0, j + len(opener) - 1
            while k < len(text):
                depth += {"(": 1, ")": -1}.get(text[k], 0)
                if depth == 0:
                    break
                k += 1
            if k >= len(text):
                break
            out.append(text[i:j] + rewrite(text[j + len(opener) : k]))
            i = k + 1
        if not out:
            return text
        text = "".join(out) + text[i:]
    return text


MAX_CALL_DEPTH = 8


def is_words(text: str) -> bool:
    """Text answers ("Devon", "odd") compare as words: sympy would read "evan" as e*v*a*n = "vane"."""
    return bool(WORD.search(_MATH_WORDS.sub("", text)))


def words(text: str) -> str:
    text = re.sub(r"\\(?:text|mathrm|textbf|mbox)\{([^{}]*)\}", r"\1", text)
    return re.sub(r"[\s{}()\\]", "", text).lower()


def too_big(expr) -> bool:
    """Power towers, huge factorials and sprawling trees: compare structurally only, never evaluate."""
    for count, node in enumerate(sympy.preorder_traversal(expr)):
        if count > MAX_NODES:
            return True
        if isinstance(node, sympy.Pow) and node.exp.is_number:
            if node.exp.has(sympy.Pow) or (node.exp.is_Number and abs(node.exp) > MAX_EXPONENT):
                return True
        if isinstance(node, sympy.factorial) and node.args[0].is_Number and abs(node.args[0]) > 500:
            return True
    return False


# ---- leaves ----------------------------------------------------------------------------------


def exprs_equal(a, b) -> bool:
    """Exact equality of two parsed leaves."""
    if a is None or b is None:
        return False
    a, b = _evaluated_matrix(a), _evaluated_matrix(b)
    if isinstance(a, sympy.MatrixBase) or isinstance(b, sympy.MatrixBase):
        if not (isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase)) or a.shape != b.shape:
            return False
        return all(exprs_equal(x, y) for x, y in zip(a, b))
    if not isinstance(a, sympy.Expr) or not isinstance(b, sympy.Expr):
        return a == b  # sets, relations and the like: sympy's own structural equality, nothing looser
    if _undefined(a) or _undefined(b):  # 12:00 and 1:00 both read as x/0: undefined is equal to nothing
        return False
    if too_big(a) or too_big(b):
        return a == b
    a, b = sympy.nsimplify(a, rational=True), sympy.nsimplify(b, rational=True)
    if a == b:
        return True
    i = sympy.Symbol("i")
    if (a.free_symbols | b.free_symbols) == {i}:  # "1+2i" and "i(2-i)": no other letters, so i is the imaginary unit
        a, b = a.subs(i, sympy.I), b.subs(i, sympy.I)
    if not a.free_symbols and not b.free_symbols:
        close = _numerically_equal(a, b)
        if close is not None:
            return close
    elif _screen(a, b) is False:  # two functions that differ at a point are different: no simplify needed
        return False
    return _zero(a - b)


def _zero(diff) -> bool:
    """Exactly zero: the cheap normal forms first (expand settles polynomials, cancel rational functions),
    `simplify` only when both leave something."""
    for step in (sympy.expand, lambda d: sympy.cancel(sympy.together(d))):
        try:
            if step(diff) == 0:
                return True
        except Exception:  # a normal form that fails on this expression proves nothing; simplify decides
            break
    return sympy.simplify(diff) == 0


# Points at which the screen evaluates expressions: generic positive rationals (logs and square roots stay
# real), a different value for each symbol (sorted by name) and each point.
_SCREEN_VALUES = [sympy.Rational(n, d) for n, d in ((7, 5), (13, 11), (17, 7), (5, 13), (29, 17), (11, 3), (3, 19))]


def _values_at(exprs, point: int) -> list[complex] | None:
    names = sorted(set().union(*(e.free_symbols for e in exprs)), key=str)
    subs = {s: _SCREEN_VALUES[(i * 3 + point) % len(_SCREEN_VALUES)] for i, s in enumerate(names)}
    out = []
    for e in exprs:
        try:
            v = complex(sympy.N(e.xreplace(subs), 30))
        except Exception:  # undefined there (a pole, a function sympy cannot evaluate): this point cannot judge
            return None
        if v != v or abs(v) == float("inf"):
            return None
        out.append(v)
    return out


def _screen(a, b, points: int = 3) -> bool | None:
    """a and b evaluated at a few points: False when they differ clearly at one (a proof of inequality: the
    values are computed to 30 digits, the gap asked for is 1e-8 relative); True when they agree at every point
    that could be evaluated (not a proof: the caller still proves equality exactly); None when none could."""
    judged = 0
    for k in range(points):
        v = _values_at((a, b), k)
        if v is None:
            continue
        judged += 1
        if abs(v[0] - v[1]) > 1e-8 * max(1.0, abs(v[0]), abs(v[1])):
            return False
    return True if judged else None


def _numerically_equal(a, b) -> bool | None:
    """Two constants compared to 80 significant digits: unequal ones differ there (1/2^99 and
    1/2^98 by a factor of two), and nested radicals that `simplify` cannot denest in time agree to
    every digit. None when evaluation fails or the values are too small to judge relatively."""
    try:  # each side on its own: evaluating a - b that cancels exactly makes sympy chase precision
        va, vb = sympy.N(a, 90), sympy.N(b, 90)
        scale, diff = abs(va) + abs(vb), abs(va - vb)
    except Exception:  # evaluation failure of any kind: let simplify decide
        return None
    if not (scale.is_Number and diff.is_Number) or not scale.is_finite or not diff.is_finite:
        return None
    if scale == 0:
        return True
    return bool(diff <= scale * sympy.Float("1e-60", 90))


def _undefined(expr) -> bool:
    return bool(expr.has(sympy.zoo, sympy.nan))


def _evaluated_matrix(expr):
    """`A + B` of explicit matrices, evaluated (small ones only); anything else unchanged."""
    if isinstance(expr, sympy.MatrixExpr) and not isinstance(expr, sympy.MatrixBase) and not too_big(expr):
        try:
            done = expr.doit()
        except Exception:  # shape mismatch and the like: leave it unevaluated, hence unequal
            return expr
        return done if isinstance(done, sympy.MatrixBase) else expr
    return expr


def leaf_equal(pred: str, gold: str) -> bool:
    """Two scalar answers: numbers, percentages, degrees, units, words or expressions."""
    p, g = clean(pred), clean(gold)
    if p.text == g.text and (not p.percent or g.percent or PERCENT_MATCHES_BARE_GOLD):
        return True
    if not p.text or not g.text:
        return False
    pw, gw = is_words(p.text), is_words(g.text)
    if pw != gw and _PRODUCT.fullmatch(p.text if pw else g.text):  # "xyz" where the other side says x*y*z
        return leaf_equal(" \\cdot ".join(p.text) if pw else p.text, " \\cdot ".join(g.text) if gw else g.text)
    if pw or gw:
        return words(p.text) == words(g.text)
    if p.percent and g.percent:  # 50% and 0.5% are different percentages, not 50 and 0.5 read crosswise
        pv, gv = _values(p.text, False, p.degrees), _values(g.text, False, g.degrees)
    else:  # a percentage matches its fraction (50% and 1/2); the bare number by PERCENT_MATCHES_BARE_GOLD
        pv = _values(p.text, p.percent, p.degrees, bare=PERCENT_MATCHES_BARE_GOLD)
        gv = _values(g.text, g.percent, g.degrees)
    if any(_values_equal(a, b) for a in pv for b in gv):
        return True
    bare = not p.percent or g.percent or PERCENT_MATCHES_BARE_GOLD  # p.text is the percentage's bare number
    return bare and _decimal_equal(p.text, gv) or _decimal_equal(g.text, pv)


_PRODUCT = re.compile(r"[a-z]{2,4}")


def _decimal_equal(decimal: str, others: list) -> bool:
    """A long decimal ("4.123105625617661") against an exact constant (sqrt(17)): equal to the digits it states."""
    places = long_decimal(decimal)
    if places is None:
        return False
    for value in others:
        if isinstance(value, Fraction):
            exact = value
        elif isinstance(value, sympy.Expr) and not value.free_symbols and not too_big(value):
            try:
                exact = Fraction(str(sympy.N(value, places + 30)))  # 30 guard digits beyond the decimal's own
            except (ValueError, TypeError, ZeroDivisionError):
                continue
        else:
            continue
        if decimal_states(exact, decimal):
            return True
    return False


def _values(text: str, percent: bool, degrees: bool, bare: bool = True) -> list:
    """Readings of a leaf: a Fraction for plain numbers, else a sympy expression.

    A percentage reads as p/100, and as p when `bare` ("50%" matches 1/2, and 50 when `bare`); an angle in
    degrees as d and as d*pi/180 ("45^\\circ" matches 45 and pi/4).
    """
    plain = plain_number(text)
    value = sympy.Rational(plain.numerator, plain.denominator) if plain is not None else to_sympy(text)
    if value is None:
        return []
    out = [plain if plain is not None else value] if bare or not percent else []
    if plain is None and _DEGREE_MARK.search(text):  # sin(90^\circ - x): degrees inside an expression
        exact = to_sympy(_DEGREE_MARK.sub(r"\\cdot\\frac{\\pi}{180}", text))
        if exact is not None:
            out.append(exact)
    if isinstance(value, sympy.Expr) and percent:
        out.append(value / 100)
    if isinstance(value, sympy.Expr) and degrees:
        out.append(value * sympy.pi / 180)
    return out


def _values_equal(a, b) -> bool:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    if isinstance(a, Fraction):
        a = sympy.Rational(a.numerator, a.denominator)
    if isinstance(b, Fraction):
        b = sympy.Rational(b.numerator, b.denominator)
    return exprs_equal(a, b)


# ---- shapes ----------------------------------------------------------------------------------


def shapes_equal(p: Shape, g: Shape) -> bool:
    if p.kind == "eq" and g.kind != "eq":
        return is_name(p.items[0]) and shapes_equal(p.items[1], g)  # "x = 3" for 3
    if g.kind == "eq" and p.kind != "eq":  # gold "x = 2" or "2 = x"
        return (
            is_name(g.items[0])
            and shapes_equal(p, g.items[1])
            or is_name(g.items[1])
            and not is_name(g.items[0])
            and shapes_equal(p, g.items[0])
        )
    if p.kind == "eq":
        (pl, pr), (gl, gr) = p.items, g.items
        if shapes_equal(pl, gl) and shapes_equal(pr, gr) or shapes_equal(pl, gr) and shapes_equal(pr, gl):
            return True
        if (
            _graph_name(pl)
            and _graph_name(gl)
            and (pl.text.strip() == "y") != (gl.text.strip() == "y")
            and shapes_equal(pr, gr)
        ):
            return True  # "f(x) = 2x + 3" and "y = 2x + 3": the same function, named two ways
        return _same_equation(p, g)
    if {p.kind, g.kind} <= {"list", "set"}:
        return _unordered_equal(p.items, g.items)
    if p.kind != g.kind:
        return False
    if p.kind == "union":
        return _unordered_equal(p.items, g.items)
    if p.kind == "bracket":
        return (
            (p.open, p.close) == (g.open, g.close)
            and len(p.items) == len(g.items)
            and all(shapes_equal(x, y) for x, y in zip(p.items, g.items))
        )
    return leaf_equal(p.text, g.text)


_CALL = re.compile(r"[a-zA-Z]\s*\(\s*[a-zA-Z]\s*\)")


def _graph_name(node: Shape) -> bool:
    """The left side of a function's equation: `y` or a call such as `f(x)`; a pair counts only when
    exactly one of the two is `y` (so `f(x) = x` never matches `f(t) = x`)."""
    return node.kind == "scalar" and (node.text.strip() == "y" or bool(_CALL.fullmatch(node.text.strip())))


def _unordered_equal(ps: tuple, gs: tuple) -> bool:
    if len(ps) != len(gs) and all(x.kind == "bracket" for x in ps + gs):
        # a solution set of tuples that lists one twice is still the same set
        return all(any(shapes_equal(x, y) for y in gs) for x in ps) and all(
            any(shapes_equal(x, y) for x in ps) for y in gs
        )
    if len(ps) != len(gs):
        return False
    left = list(gs)
    for x in ps:
        hit = next((i for i, y in enumerate(left) if shapes_equal(x, y)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True


def _same_equation(p: Shape, g: Shape) -> bool:
    """y = 2x + 1 and 2x - y = -1: the same zero set up to sign (scalar equations only)."""
    if any(side.kind != "scalar" for side in p.items + g.items):
        return False
    sides = [to_sympy(side.text) for side in p.items + g.items]
    if any(not isinstance(s, sympy.Expr) for s in sides):
        return False
    lp, lg = sides[0] - sides[1], sides[2] - sides[3]
    if exprs_equal(lp, lg) or exprs_equal(lp, -lg):
        return True
    # 2x + 4y - 3 = 0 and y = -x/2 + 3/4: one side a nonzero constant multiple of the other
    if (
        too_big(lp)
        or too_big(lg)
        or _undefined(lp)
        or _undefined(lg)
        or not lp.free_symbols
        or lp.free_symbols != lg.free_symbols
    ):
        return False
    seen = [v for v in (_values_at((lp / lg,), k) for k in range(3)) if v is not None]
    if any(abs(v[0] - seen[0][0]) > 1e-8 * max(1.0, abs(v[0])) for v in seen):
        return False  # the ratio takes two values: not a constant multiple
    ratio = sympy.simplify(lp / lg)
    return bool(ratio.is_number and not ratio.free_symbols and ratio.is_nonzero and ratio.is_finite)


# ---- entry points ----------------------------------------------------------------------------


def equivalent(pred: str, gold: str) -> bool:
    """Whether `pred` states the same answer as `gold` (both LaTeX, already extracted)."""
    p, g = _cleaned(pred), _cleaned(gold)
    if not p or not g:
        return False
    if p == g:
        return True
    g = (_approximation(g) or (g,))[0]  # a gold "\frac{\sqrt{3}}{3} \approx 0.577" is its exact side
    approx = _approximation(p)
    if approx is None:
        return _equivalent(p, g)
    exact, decimal = approx
    if not exact:  # "\approx 1.41421" alone is that decimal, under the decimal rules
        return _equivalent(decimal, g)
    if _approximates(exact, decimal) is False:  # "\frac{1}{3} \approx 0.5" contradicts itself: a hedge
        return False
    return _equivalent(exact, g) or _equivalent(decimal, g)


def _approximation(text: str) -> tuple[str, str] | None:
    """("E", "d") for "E \\approx d", where d is a plain decimal or integer; else None."""
    parts = APPROX.split(text)
    if len(parts) != 2 or plain_number(parts[1].strip()) is None:
        return None
    return parts[0].strip(), parts[1].strip()


def _approximates(exact: str, decimal: str) -> bool | None:
    """Whether `decimal` is the constant `exact` rounded or cut at its last digit; None when `exact` is no constant."""
    values = _values(clean(exact).text, False, False)
    if not values:
        return None
    value = values[0]
    if not isinstance(value, Fraction):
        if not isinstance(value, sympy.Expr) or value.free_symbols or too_big(value) or not value.is_real:
            return None
        try:
            value = Fraction(str(sympy.N(value, 40)))
        except (ValueError, TypeError, ZeroDivisionError):
            return None
    return rounds_to(value, decimal)


def _equivalent(p: str, g: str) -> bool:
    if p == g:
        return True
    if "=" not in g:  # "m+n = 256+37 = 293" states 293; "x = \\sqrt{8} = 2\\sqrt{2}" states 2\\sqrt{2}, "3 = 5" nothing
        p = chain_value(p, equal=leaf_equal) or p
    return shapes_equal(shape(p), shape(g))


def _cleaned(text: str) -> str:
    """Cleaned text that keeps the percent and degree signs, which the leaves still need."""
    c = clean(text)
    if not c.text:
        return ""
    return c.text + ("\\%" if c.percent else "") + ("^\\circ" if c.degrees else "")


def canonical(pred: str) -> str:
    """A normal form for majority voting: "25" for "\\frac{50}{2}", "1/2" for "0.5"; else the cleaned text."""
    c = clean(pred)
    text = peel_parens(c.text)
    plain = plain_number(text)
    if plain is not None and not c.percent:
        return number_text(plain)
    node = shape(text)
    if node.kind != "scalar" or c.percent or is_words(text) or len(text) > 120 or sum(map(text.count, "({[")) > 12:
        return text  # the parser is slow on deep nesting; a normal form is not worth a killed worker
    expr = to_sympy(text)
    if not isinstance(expr, sympy.Expr) or too_big(expr):
        return text
    expr = sympy.nsimplify(expr, rational=True)
    if expr.is_number:
        expr = sympy.simplify(expr)
    out = sympy.sstr(expr)
    return out if len(out) <= 200 else text
