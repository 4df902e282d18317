"""A fast parser for the plain part of LaTeX math, in front of latex2sympy (tasks/equivalence.py).

latex2sympy's ANTLR parser costs ~5-25 ms per leaf in pure Python, three quarters of a free-form check. Most
answers use a small, unambiguous subset: integers, lower-case one-letter variables, \\pi, + - * / ^, \\cdot,
\\times, \\frac / \\dfrac / \\tfrac, \\sqrt{..} and \\sqrt[n]{..}, parentheses and braces (\\left / \\right too),
implicit multiplication (2x, 2\\sqrt{2}, x(x+1)). This module parses exactly that subset and answers None for
anything else, which then goes to latex2sympy as before. It builds the expression unevaluated (as latex2sympy
does), so the checker's guards (tasks.equivalence.too_big) still see 2^{10^9} before anything computes it.

Refused (None), because latex2sympy reads them in ways a small grammar should not guess: decimals, the letters
e and i (Euler's number, the imaginary unit or a variable), upper-case letters, three letters in a row (a
word), a letter directly before "(" (a function call f(x)), "/" followed by an implicit product (1/2x), a
power of a power (2^3^4), a signed exponent without braces, an integer before a fraction (2\\frac{1}{2} is a
mixed number to the checker), a literal zero divisor, and every other command or character. Two integers
divided become their fraction, as latex2sympy makes them. tests/test_quick_latex.py holds the parser to
latex2sympy on every answer of the checker's case files.
"""

from __future__ import annotations

import re

import sympy

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+)|(?P<var>[a-z])|(?P<cmd>\\[a-zA-Z]+)|(?P<op>[-+*/^(){}\[\]]))",
)
_COMMANDS = {"\\frac", "\\dfrac", "\\tfrac", "\\sqrt", "\\pi", "\\cdot", "\\times", "\\left", "\\right"}
_REFUSED_LETTERS = {"e", "i"}
_FRACS = ("\\frac", "\\dfrac", "\\tfrac")
MAX_CHARS = 200


class _Refuse(Exception):
    """Outside the subset: the caller falls back to latex2sympy."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos, letters = [], 0, 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _Refuse
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "cmd" and value not in _COMMANDS or kind == "var" and value in _REFUSED_LETTERS:
            raise _Refuse
        letters = letters + 1 if kind == "var" and m.start(kind) == pos else int(kind == "var")
        if letters > 2:
            raise _Refuse  # "max", "lcm", "xyz": a word or a product, latex2sympy decides
        if kind == "cmd" and value in ("\\left", "\\right"):
            pos = m.end()
            continue  # \left( and \right) are ( and )
        out.append((kind, value))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.t, self.i = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or value is not None and tok[1] != value:
            raise _Refuse
        self.i += 1
        return tok

    def expr(self):
        terms = [self.term()]
        while (tok := self.peek()) is not None and tok[1] in "+-" and tok[0] == "op":
            self.take()
            t = self.term()
            terms.append(t if tok[1] == "+" else sympy.Mul(-1, t, evaluate=False))
        return terms[0] if len(terms) == 1 else sympy.Add(*terms, evaluate=False)

    def term(self):
        factors = [self.signed()]
        while (tok := self.peek()) is not None:
            if tok[1] in ("*", "\\cdot", "\\times"):
                self.take()
                factors.append(self.signed())
            elif tok[1] == "/":
                self.take()
                divisor = self.power()
                if self._starts_atom():
                    raise _Refuse  # 1/2x: (1/2)x or 1/(2x)?
                factors[-1] = _divide(factors[-1], divisor)
            elif self._starts_atom():
                if tok[1] in _FRACS and factors[-1].is_Integer:
                    raise _Refuse  # 2\frac{1}{2}: a mixed number (2 1/2) to the checker's latex2sympy settings
                factors.append(self.power())  # implicit product: 2x, 2\sqrt{2}, x(x+1)
            else:
                break
        return factors[0] if len(factors) == 1 else sympy.Mul(*factors, evaluate=False)

    def _starts_atom(self) -> bool:
        tok = self.peek()
        return tok is not None and (
            tok[0] in ("num", "var") or tok[1] in ("(", "{", "\\frac", "\\dfrac", "\\tfrac", "\\sqrt", "\\pi")
        )

    def signed(self):
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in "+-":
            self.take()
            inner = self.signed()
            return inner if tok[1] == "+" else sympy.Mul(-1, inner, evaluate=False)
        return self.power()

    def power(self):
        base = self.atom()
        if (tok := self.peek()) is not None and tok[1] == "^":
            self.take()
            nxt = self.peek()
            if nxt is None:
                raise _Refuse
            if nxt[1] == "{":
                exponent = self.group("{", "}")
            elif nxt[0] == "num" and len(nxt[1]) == 1 or nxt[0] == "var":
                self.take()
                exponent = sympy.Integer(nxt[1]) if nxt[0] == "num" else sympy.Symbol(nxt[1])
            else:
                raise _Refuse  # 2^-1, 2^\pi, 2^12 (TeX reads 2^1 2)
            if (after := self.peek()) is not None and after[1] == "^":
                raise _Refuse
            return sympy.Pow(base, exponent, evaluate=False)
        return base

    def group(self, open_: str, close: str):
        self.take(open_)
        inner = self.expr()
        self.take(close)
        return inner

    def atom(self):
        tok = self.peek()
        if tok is None:
            raise _Refuse
        kind, value = tok
        if kind == "num":
            self.take()
            return sympy.Integer(value)
        if kind == "var":
            self.take()
            if (nxt := self.peek()) is not None and nxt[1] == "(":
                raise _Refuse  # f(x): a call or a product, latex2sympy decides
            return sympy.Symbol(value)
        if value == "\\pi":
            self.take()
            return sympy.pi
        if value == "(":
            return self.group("(", ")")
        if value == "{":
            return self.group("{", "}")
        if value in _FRACS:
            self.take()
            num, den = self.group("{", "}"), self.group("{", "}")
            return _divide(num, den)
        if value == "\\sqrt":
            self.take()
            index = None
            if (nxt := self.peek()) is not None and nxt[1] == "[":
                self.take("[")
                n = self.take()
                if n[0] != "num":
                    raise _Refuse
                self.take("]")
                index = int(n[1])
                if index < 2:
                    raise _Refuse
            radicand = self.group("{", "}")
            return sympy.Pow(radicand, sympy.Rational(1, index or 2), evaluate=False)
        raise _Refuse


def _divide(num, den):
    """num / den as latex2sympy builds it: two integers become their fraction (6/3 is 2), anything else stays an
    unevaluated product with den^-1. A zero divisor is refused: latex2sympy's nan / zoo are what the checker's
    undefined-answer rule looks for."""
    if den == 0:
        raise _Refuse
    if isinstance(num, sympy.Integer) and isinstance(den, sympy.Integer):
        return sympy.Rational(num, den)
    return sympy.Mul(num, sympy.Pow(den, -1, evaluate=False), evaluate=False)


def parse(text: str):
    """The sympy expression of `text` when it lies in the subset above, else None."""
    if len(text) > MAX_CHARS:
        return None
    try:
        tokens = _tokens(text)
        if not tokens:
            return None
        p = _Parser(tokens)
        expr = p.expr()
        return expr if p.peek() is None else None
    except (_Refuse, RecursionError):
        return None
