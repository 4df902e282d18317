"""Cheap, lossless clean-up of an answer string, and exact plain-number parsing, with no sympy.

Runs in the parent for every answer, so it must be linear in the input and safe on any text. Nothing
here changes what an answer means: it drops typesetting (dollars, `\\left`, spacing commands, a
trailing period) and splits off the wrappers that carry no value for comparison (units in `\\text{}`,
degree signs). A percent sign is *not* dropped silently: it is reported so the comparison can treat
50% as either 50 or 1/2.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from tasks.structure import split_top

MAX_NUMBER_CHARS = 400  # longer digit strings are compared as strings, never converted
WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")  # a word of prose: 3+ letters, not a LaTeX command

_SPACING = re.compile(
    r"(?<!\\)\\[,;:! ]|\\(?:quad|qquad|displaystyle|textstyle|left|right|big|Big|bigg|Bigg)(?![a-zA-Z])|~"
)
_FRAC_ALIAS = re.compile(r"\\[dt]frac(?![a-zA-Z])")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")  # \frac12 -> \frac{1}{2}
_FRAC_HALF_SHORT = re.compile(r"\\frac\s*\{([^{}]*)\}\s*(\d)")  # \frac{a}2
_ROOT_SHORT = re.compile(r"\\sqrt\s*\[([^\[\]{}]{1,20})\]\s*([0-9a-zA-Z])")  # \sqrt[3]2 -> \sqrt[3]{2} (one token)
_DEGREES = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree|\\text\{\s*degrees?\s*\}|\s+degrees?)\s*$")
_PERCENT = re.compile(r"\s*(?:\\%|%|\\text\{\s*percent\s*\}|\s+percent)\s*$")
_TEXT_UNIT = re.compile(
    r"\s*\\(?:text|textrm|textbf|textit|mbox|mathrm|textnormal)\s*\{\s*[a-zA-Z][a-zA-Z .]*\}(?:\s*\^\s*\{?\d\}?)?\s*$"
)
_WORD_UNIT = re.compile(r"(?<=[\d}])\s*([a-zA-Z]{2,}(?:\s+[a-zA-Z]{2,})*)(?:\s*\^\s*\{?\d\}?)?\s*$")
_MATH_WORDS = {
    "pi",
    "sin",
    "cos",
    "tan",
    "cot",
    "sec",
    "csc",
    "log",
    "ln",
    "exp",
    "sqrt",
    "infty",
    "inf",
    "frac",
    "cdot",
    "times",
    "mod",
    "pmod",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "lg",
    "deg",
}
_WRAPPERS = ("\\text", "\\textbf", "\\mathrm", "\\mathbf", "\\boxed", "\\fbox", "\\mbox", "\\textrm", "\\textnormal")
_VAR_EQ = re.compile(r"^[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?\s*=\s*(?!.*=)")  # "x = ", "a_1 = "
_SPACE_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?")  # "1 000 000"
# "\\left" written with a doubled backslash (an escaping slip in JSON or raw strings): one command, not a line break
_DOUBLED = re.compile(
    r"(?<!\\)\\\\(?=(?:left|right|frac|dfrac|tfrac|sqrt|le|leq|ge|geq|lt|gt|cdot|times|pi|infty|text|in|cup|circ|pm)(?![a-zA-Z]))"
)
_INT = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0*)?")
_DEC = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_SCI = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))[eE]([+-]?\d{1,3})")  # 1e3, 2.5E-4: the whole answer only
_ARRAY = re.compile(r"^([\[(])\s*\\begin\{array\}\{[^{}]*\}(.*)\\end\{array\}\s*([\])])$", re.S)
# a repeating decimal: 0.\overline{3}, 0.1\overline{6}, 1.\bar{27}, .\overline{9}
_REPEATING = re.compile(r"([+-]?)(\d*)\.(\d*)\\(?:overline|bar)\s*(?:\{\s*(\d+)\s*\}|(\d))")
_FRAC = re.compile(r"([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}|([+-]?\d+)\s*/\s*(\d+)")


@dataclass(frozen=True)
class Cleaned:
    text: str  # the answer with typesetting, units and degree signs removed
    percent: bool = False  # it ended in a percent sign (removed from text)
    degrees: bool = False  # it ended in a degree sign (removed from text)


def unwrap(text: str, command: str) -> str | None:
    """The body of `command{...}` when the whole text is exactly that, else None."""
    if not text.startswith(command):
        return None
    rest = text[len(command) :].lstrip()
    if not rest.startswith("{"):
        return None
    end = matching_brace(rest, 0)
    if end != len(rest) - 1:
        return None
    return rest[1:end]


def matching_brace(text: str, start: int) -> int:
    """Index of the `}` closing the `{` at `start`, or -1; escaped braces `\\{` do not count."""
    depth = 0
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def clean(text: str) -> Cleaned:
    """Strip typesetting that never changes an answer's value."""
    s = _DOUBLED.sub(r"\\", text.strip())
    for _ in range(4):  # peel nested wrappers: $\boxed{\text{5}}$
        before = s
        s = s.strip().strip("$").strip()
        if s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
            s = s[2:-2].strip()
        s = s.strip("*").strip()  # markdown bold
        s = s[:-1].rstrip() if s.endswith(".") else s  # sentence end; "385." is 385
        if s.startswith("{") and matching_brace(s, 0) == len(s) - 1:
            s = s[1:-1].strip()
        for w in _WRAPPERS:
            body = unwrap(s, w)
            if body is not None:
                s = body.strip()
        if s == before:
            break
    if "$" in s:  # "$125$ miles": dollars left inside are math delimiters; an escaped \$ is money
        s = re.sub(r"(?<!\\)\$", " ", s).strip()
    s = re.sub(r"(?<=\d)(,?)\\[,!]\s*(?=\d{3})", r"\1", s)  # 1\,000 and 16,\!386
    s = _SPACING.sub(" ", s)
    s = _FRAC_ALIAS.sub(r"\\frac", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _ROOT_SHORT.sub(r"\\sqrt[\1]{\2}", s)
    s = s.replace("{,}", ",").replace("\\$", "").replace("\\dollar", "")
    s = s.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}").replace("\\langle", "(").replace("\\rangle", ")")
    s = s.replace("\\varnothing", "\\emptyset")
    s = re.sub(r"\s+", " ", s).strip()
    m = _ARRAY.match(s)
    if m and (m.group(1), m.group(3)) in (("[", "]"), ("(", ")")):  # [\begin{array}{cc}..\end{array}] is a matrix
        kind = "bmatrix" if m.group(1) == "[" else "pmatrix"
        s = f"\\begin{{{kind}}}{m.group(2)}\\end{{{kind}}}"
    if _SPACE_THOUSANDS.fullmatch(s):
        s = s.replace(" ", "")
    percent = degrees = False
    for _ in range(2):
        m = _PERCENT.search(s)
        if m and m.start() > 0:
            s, percent = s[: m.start()].rstrip(), True
        m = _DEGREES.search(s)
        if m and m.start() > 0:
            s, degrees = s[: m.start()].rstrip(), True
        s = _strip_unit(s)
    return Cleaned(s, percent, degrees)


def _strip_unit(s: str) -> str:
    """Drop a trailing unit after a number: `5 \\text{ cm}`, `12 apples`, `3\\mbox{ m}^2`."""
    m = _TEXT_UNIT.search(s)
    if m and m.start() > 0 and re.search(r"[\d}]\s*$", s[: m.start()]):
        return s[: m.start()].rstrip()
    m = _WORD_UNIT.search(s)
    if m and m.start() > 0 and not any(w.lower() in _MATH_WORDS for w in m.group(1).split()):
        head = s[: m.start()].rstrip()
        if re.fullmatch(r"[+-]?[\d,.]+", head):  # only after a plain number: "2 x" stays algebra
            return head
    return s


def strip_variable(s: str) -> str:
    """`x = 5` -> `5` (a single variable on the left, nothing else to compare there)."""
    m = _VAR_EQ.match(s)
    return s[m.end() :].strip() if m else s


def integer_digits(s: str) -> str | None:
    """Canonical digits of a plain integer ("033" -> "33", "1,000" -> "1000", "385." -> "385"), else None."""
    if not _INT.fullmatch(s):  # linear in the length; the digits stay a string, so any length is exact
        return None
    sign = "-" if s.startswith("-") else ""
    digits = s.lstrip("+-").split(".")[0].replace(",", "").lstrip("0") or "0"
    return "0" if digits == "0" else sign + digits


def plain_number(s: str) -> Fraction | None:
    """Exact value of an integer, decimal or integer fraction ("0.5", "-3/4", "\\frac{7}{2}"), else None.

    Decimals are exact too: "0.3333" is 3333/10000, not 1/3. A decimal never matches a value it only
    approximates; that would make near misses correct.
    """
    if len(s) > MAX_NUMBER_CHARS:
        return None
    d = integer_digits(s)  # at most MAX_NUMBER_CHARS digits here: int() is safe
    if d is not None:
        return Fraction(int(d))
    if _DEC.fullmatch(s):
        return Fraction(s)
    m = _SCI.fullmatch(s)
    if m:
        return Fraction(m.group(1)) * Fraction(10) ** int(m.group(2))
    m = _REPEATING.fullmatch(s)
    if m:  # 0.1\overline{6} = 0.1666... = 1/6, exactly
        sign, whole, fixed, period = m.group(1), m.group(2) or "0", m.group(3), m.group(4) or m.group(5)
        value = Fraction(int(whole)) + Fraction(int(fixed or "0"), 10 ** len(fixed))
        value += Fraction(int(period), 10 ** len(fixed) * (10 ** len(period) - 1))
        return -value if sign == "-" else value
    m = _FRAC.fullmatch(s)
    if m:
        if m.group(2) is not None:
            sign, num, den = m.group(1), int(m.group(2)), int(m.group(3))
        else:
            sign, num, den = "", int(m.group(4)), int(m.group(5))
        if den == 0:
            return None
        value = Fraction(num, den)
        return -value if sign == "-" else value
    return None


def number_text(value: Fraction) -> str:
    """Canonical spelling of an exact number: "25", "-1/2"."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


MIN_DECIMAL_DIGITS = 10  # a decimal stands for an exact value only when it states at least this many significant digits
_DECIMAL = re.compile(r"[+-]?(\d*)\.(\d+)")
APPROX = re.compile(r"\\approx(?![a-zA-Z])|≈")  # "\frac{1}{3} \approx 0.333"
_COMMAND = re.compile(r"\\[a-zA-Z]+")
_SUB = re.compile(r"_\{[^{}]*\}|_[a-zA-Z0-9]")


def long_decimal(s: str) -> int | None:
    """Decimal places of a decimal that states MIN_DECIMAL_DIGITS or more significant digits ("0.0833333333333333"), else None."""
    m = _DECIMAL.fullmatch(s)
    if not m:
        return None
    significant = (m.group(1) + m.group(2)).lstrip("0")
    return len(m.group(2)) if len(significant) >= MIN_DECIMAL_DIGITS else None


def decimal_states(value: Fraction, decimal: str) -> bool:
    """Whether the long decimal is `value` written to the digits it states: rounded, or cut after its last digit.

    Never looser: 0.08 states 2 significant digits and matches nothing but 0.08 (see `long_decimal`)."""
    places = long_decimal(decimal)
    if places is None:
        return False
    d, unit = Fraction(decimal), Fraction(1, 10**places)
    if abs(value - d) <= unit / 2:
        return True
    digits = len(decimal.lstrip("+-").replace(".", "").lstrip("0"))
    if digits >= 16 and float(value) == float(d):  # a float64 printed in full (repr): its last digit is binary noise
        return True
    return (value > 0) == (d > 0) and 0 <= abs(value) - abs(d) < unit  # truncated


def rounds_to(value: Fraction, decimal: str) -> bool:
    """Whether `decimal` (or an integer) is `value` rounded or cut after its last digit: 0.333 for 1/3, 3.14 for pi.

    An approximation written next to an exact answer ("\\frac{1}{3} \\approx 0.333"), not an answer on its own."""
    m = _DECIMAL.fullmatch(decimal)
    if m is None and integer_digits(decimal) is None:
        return False
    d, unit = Fraction(decimal), Fraction(1, 10 ** (len(m.group(2)) if m else 0))
    return abs(value - d) <= unit / 2 or (value > 0) == (d > 0) and 0 <= abs(value) - abs(d) < unit


def _constant(side: str) -> bool:
    return bool(side) and not re.search(r"[a-zA-Z]", _COMMAND.sub("", side)) and "\\text" not in side


def _named(side: str) -> bool:
    """A quantity named with letters: "m+n", "a_1 + a_2", "AB", "x" (no digits outside subscripts: "2x" is not)."""
    bare = _SUB.sub("", _COMMAND.sub(lambda m: "" if m.group() in ("\\cdot", "\\times") else m.group(), side))
    return bool(re.fullmatch(r"[a-zA-Z+\-*() ]+", bare)) and bool(re.search(r"[a-zA-Z]", bare))


def chain_value(s: str, equal: Callable[[str, str], bool] | None = None) -> str | None:
    """The value an equation or chain states when its last side is a constant: "m+n = 256+37 = 293" -> "293",
    "\\boxed{m+n=371}" -> "371". The first side names the quantity (letters only, or a constant) and every
    middle side is a constant; "2x = 6" or "x^2 = 25" state an equation, not a value (None).

    The constant sides must be equal: "3 = 5" and "2+2=5" state a falsehood, not 5 (None). Plain arithmetic is
    checked here exactly (`arithmetic`); sides it cannot evaluate ("\\sqrt{8} = 2\\sqrt{2}") go to `equal` (the
    workers pass sympy's), and without one the chain is not read as a value (None)."""
    if "=" not in s:
        return None
    sides = split_top(s, "=")
    if len(sides) < 2 or not all(sides):
        return None
    first, *middle, last = sides
    if not _constant(last) or not all(_constant(m) for m in middle):
        return None
    if not (_named(first) or _constant(first)):
        return None
    constants = ([first] if _constant(first) else []) + middle + [last]
    for a, b in zip(constants, constants[1:]):
        va, vb = arithmetic(a), arithmetic(b)
        if va is not None and vb is not None:
            if va != vb:
                return None
        elif equal is None or not equal(a, b):
            return None
    return last


MAX_ARITH_CHARS = 200
MAX_ARITH_DIGITS = 400  # a value with more digits than this (numerator or denominator) is not computed here
_ARITH_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?|\.\d+)|(?P<cmd>\\(?:[dt]?frac|sqrt|binom|cdot|times|div|left|right)(?![a-zA-Z]))"
    r"|(?P<op>[-+*/^(){}!\[\]]))"
)


class _NotArithmetic(Exception):
    pass


def arithmetic(side: str) -> Fraction | None:
    """Exact value of a side written in plain arithmetic: integers, decimals, + - * / ^ (small integer powers),
    \\cdot, \\times, \\div, \\frac, parentheses, perfect-square \\sqrt, small factorials and \\binom; else None.
    No sympy: it runs in the parent, bounded by MAX_ARITH_CHARS and MAX_ARITH_DIGITS."""
    side = side.strip()
    if len(side) > MAX_ARITH_CHARS:
        return None
    value = plain_number(side)
    if value is not None:
        return value
    tokens, pos = [], 0
    while pos < len(side):
        m = _ARITH_TOKEN.match(side, pos)
        if not m:
            return None
        if m.lastgroup != "cmd" or m.group("cmd") not in ("\\left", "\\right"):
            tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
        if side[pos:].strip() == "":
            break
    try:
        parser = _Arith(tokens)
        value = parser.expr()
        return value if parser.i == len(tokens) else None
    except (_NotArithmetic, ZeroDivisionError, RecursionError, ValueError, OverflowError):
        return None


class _Arith:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.t[self.i][1] if self.i < len(self.t) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.t) or value is not None and self.t[self.i][1] != value:
            raise _NotArithmetic
        self.i += 1
        return self.t[self.i - 1]

    def expr(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            sign = self.take()[1]
            value = _small(value + self.term() if sign == "+" else value - self.term())
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while True:
            op = self.peek()
            if op in ("*", "\\cdot", "\\times"):
                self.take()
                value = _small(value * self.unary())
            elif op in ("/", "\\div"):
                self.take()
                value = _small(value / self.unary())
            elif op == "(":  # 3(4+5)
                value = _small(value * self.power())
            else:
                return value

    def unary(self) -> Fraction:
        if self.peek() in ("+", "-"):
            sign = self.take()[1]
            value = self.unary()
            return -value if sign == "-" else value
        return self.power()

    def power(self) -> Fraction:
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            exponent = self.group("{", "}")
        else:
            kind, text = self.take()
            if kind != "num" or len(text) != 1:
                raise _NotArithmetic  # 2^12 is 2^1 2 to TeX; 2^-1 is unbraced
            exponent = Fraction(int(text))
        if self.peek() == "^" or exponent.denominator != 1 or abs(exponent) > 64:
            raise _NotArithmetic
        if base == 0 and exponent < 0:
            raise ZeroDivisionError
        if max(abs(base.numerator), base.denominator).bit_length() * abs(exponent) > 4 * MAX_ARITH_DIGITS:
            raise _NotArithmetic
        return _small(base ** int(exponent))

    def postfix(self) -> Fraction:
        value = self.atom()
        while self.peek() == "!":
            self.take()
            if value.denominator != 1 or not 0 <= value <= 200:
                raise _NotArithmetic
            value = Fraction(math.factorial(int(value)))
        return value

    def group(self, open_: str, close: str) -> Fraction:
        self.take(open_)
        value = self.expr()
        self.take(close)
        return value

    def atom(self) -> Fraction:
        kind, text = self.take()
        if kind == "num":
            return Fraction(text)
        if text in ("(", "{"):
            self.i -= 1
            return self.group(text, ")" if text == "(" else "}")
        if text in ("\\frac", "\\dfrac", "\\tfrac"):
            return _small(self.group("{", "}") / self.group("{", "}"))
        if text == "\\binom":
            n, k = self.group("{", "}"), self.group("{", "}")
            if n.denominator != 1 or k.denominator != 1 or not 0 <= n <= 1000 or k < 0:
                raise _NotArithmetic
            return _small(Fraction(math.comb(int(n), int(k))))
        if text == "\\sqrt":
            if self.peek() == "[":
                raise _NotArithmetic
            radicand = self.group("{", "}")
            roots = [math.isqrt(x) for x in (radicand.numerator, radicand.denominator)] if radicand >= 0 else None
            if roots is None or roots[0] ** 2 != radicand.numerator or roots[1] ** 2 != radicand.denominator:
                raise _NotArithmetic  # an irrational root: not plain arithmetic
            return Fraction(roots[0], roots[1])
        raise _NotArithmetic


def _small(value: Fraction) -> Fraction:
    if max(abs(value.numerator), value.denominator).bit_length() > 4 * MAX_ARITH_DIGITS:
        raise _NotArithmetic
    return value
