"""Split an answer into its shape (set, tuple or interval, union, equation, list) before any sympy.

The shape is read from the delimiters as written, not from sympy, because sympy folds the shapes
that matter here: "(2,1)" parses as an open interval that evaluates to the empty set, equal to any
other reversed pair. Comparing shapes first keeps [1,2) apart from [1,2] and (1,2) apart from {1,2}.
Only the leaves (scalars) go on to the LaTeX parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DEPTH = 12
MAX_ITEMS = 64
_OPEN, _CLOSE = "([{", ")]}"
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SIMPLE_VAR = re.compile(r"[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?|\\[a-zA-Z]+")


@dataclass(frozen=True)
class Shape:
    kind: str  # scalar | list (unordered) | set (unordered) | bracket (ordered) | union | eq
    items: tuple = ()  # child Shapes; for a scalar, empty
    text: str = ""  # a scalar's LaTeX
    open: str = ""
    close: str = ""


def _depths(s: str):
    """Yield (index, depth before this char) at every position outside escapes; `\\{` counts."""
    depth, i, n = 0, 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in "{}":
            yield i, depth
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        yield i, depth
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        i += 1


def split_top(s: str, sep: str) -> list[str]:
    """Split on `sep` where it is outside every bracket."""
    parts, last = [], 0
    for i, depth in _depths(s):
        if depth == 0 and s.startswith(sep, i) and i >= last:
            if sep == "=" and (s[i - 1 : i] in ("<", ">", "!", "=", "\\") or s[i + 1 : i + 2] == "="):
                continue
            if sep.startswith("\\") and s[i + len(sep) : i + len(sep) + 1].isalpha():  # \in vs \infty
                continue
            parts.append(s[last:i])
            last = i + len(sep)
    parts.append(s[last:])
    return [p.strip() for p in parts]


def _encloses(s: str) -> bool:
    """The bracket opening `s` closes exactly at its end."""
    for i, depth in _depths(s):
        if depth == 0 and 0 < i < len(s) - (2 if s.endswith("\\}") else 1):
            return False
    return True


def peel_parens(s: str) -> str:
    """Drop grouping parentheses around the whole answer in one pass: "((5))" -> "5", "((1,2))" -> "(1,2)"."""
    stack, partner = [], {}
    for i, c in enumerate(s):
        if c == "(":
            stack.append(i)
        elif c == ")" and stack:
            partner[stack.pop()] = i
    k, n = 0, len(s)
    while k < n - 1 - k and partner.get(k) == n - 1 - k:
        k += 1
    if k and (len(split_top(s[k : n - k], ",")) > 1 or len(split_top(s[k : n - k], ";")) > 1):
        k -= 1  # the innermost pair is a tuple's, not grouping
    return s[k : n - k].strip()


_OR = re.compile(r"\s*\\(?:text|mbox|mathrm)\{\s*(?:or|and)\s*\}\s*|\s+(?:or|and)\s+|(?<=[)\]])(?:or|and)(?=[(\[])")


def shape(s: str, depth: int = 0) -> Shape:
    s = peel_parens(_OR.sub(", ", s.strip()))  # "x = 2 or x = 3" lists two answers
    if depth > MAX_DEPTH or s.startswith("\\begin"):
        return Shape("scalar", text=s)
    if len(s) >= 2 and s[0] in "([" and s[1:].lstrip().startswith("\\begin") and _encloses(s):
        return Shape("scalar", text=s)  # [\begin{array}..\end{array}]: a matrix, its brackets are typesetting
    if s.startswith("\\{") and s.endswith("\\}") and _encloses(s):
        return Shape("set", _items(s[2:-2], depth))
    commas = _split_list(s)
    if len(commas) > 1 and not _THOUSANDS.fullmatch(s):
        return Shape("list", tuple(shape(p, depth + 1) for p in commas[:MAX_ITEMS]))
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _encloses(s):
        items = _items(s[1:-1], depth)
        if len(items) == 1 and s[0] == "(" and s[-1] == ")":
            return items[0]  # grouping parentheses
        return Shape("bracket", items, open=s[0], close=s[-1])
    cups = split_top(s, "\\cup")
    if len(cups) > 1:
        return Shape("union", tuple(shape(p, depth + 1) for p in cups[:MAX_ITEMS]))
    sides = split_top(s, "=")
    if len(sides) != 2:
        sides = split_top(s, "\\in")  # "x \in [1, 2]" states the value of x like "x = [1, 2]"
    if len(sides) == 2 and all(sides):
        return Shape("eq", (shape(sides[0], depth + 1), shape(sides[1], depth + 1)))
    interval = _inequality(s, depth)
    if interval is not None:
        return interval
    if s.count("\\pm") == 1:
        return Shape("list", (shape(s.replace("\\pm", "+"), depth + 1), shape(s.replace("\\pm", "-"), depth + 1)))
    return Shape("scalar", text=s)


_LESS = {"<": True, "\\lt": True, "\\le": False, "\\leq": False, "\\leqslant": False, "<=": False}
_GREATER = {">": True, "\\gt": True, "\\ge": False, "\\geq": False, "\\geqslant": False, ">=": False}
_REL = "|".join(sorted((re.escape(k) for k in {**_LESS, **_GREATER}), key=len, reverse=True))
_AFTER_REL = r"(?:(?<=[a-zA-Z])(?![a-zA-Z])|(?<![a-zA-Z]))"  # "\\le" is not the start of "\\left"; "<x" is fine
_VAR = r"(?:-?[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?(?:\([a-zA-Z]\))?|\|[a-zA-Z]\|)"  # x, a_1, f(x), |z|
_ONE_SIDED = re.compile(rf"({_VAR})\s*({_REL}){_AFTER_REL}\s*(.+)")
_ONE_SIDED_REV = re.compile(rf"(.+?)\s*({_REL}){_AFTER_REL}\s*({_VAR})")  # 5 \geq x
_TWO_SIDED = re.compile(rf"(.+?)\s*({_REL}){_AFTER_REL}\s*({_VAR})\s*({_REL}){_AFTER_REL}\s*(.+)")
_FLIP = {
    "<": ">",
    ">": "<",
    "\\lt": "\\gt",
    "\\gt": "\\lt",
    "\\le": "\\ge",
    "\\ge": "\\le",
    "\\leq": "\\geq",
    "\\geq": "\\leq",
    "\\leqslant": "\\geqslant",
    "\\geqslant": "\\leqslant",
    "<=": ">=",
    ">=": "<=",
}


def _inequality(s: str, depth: int) -> Shape | None:
    """One variable bounded by numbers reads as the interval it describes: x > 5 is (5, \\infty)."""

    def bound(text: str) -> Shape:
        return shape(text, depth + 1)

    m = _TWO_SIDED.fullmatch(s)
    if m and m.group(2) in _LESS and m.group(4) in _LESS and not m.group(3).startswith("-"):
        return Shape(
            "bracket",
            (bound(m.group(1)), bound(m.group(5))),
            open="(" if _LESS[m.group(2)] else "[",
            close=")" if _LESS[m.group(4)] else "]",
        )
    m = _ONE_SIDED.fullmatch(s)
    if m and not re.search(_REL, m.group(3)):
        rel, rhs, var = m.group(2), m.group(3), m.group(1)
    else:
        m = _ONE_SIDED_REV.fullmatch(s)
        if not m or re.search(_REL, m.group(1)) or re.fullmatch(_VAR, m.group(1)):
            return None
        rel, rhs = _FLIP[m.group(2)], m.group(1)
        var = m.group(3)
    if var.startswith("-"):  # -x > -1 is x < 1
        rel, rhs = _FLIP[rel], f"-({rhs})"
    rhs = bound(rhs)
    if rel in _LESS:
        return Shape("bracket", (Shape("scalar", text="-\\infty"), rhs), open="(", close=")" if _LESS[rel] else "]")
    return Shape("bracket", (rhs, Shape("scalar", text="\\infty")), open="(" if _GREATER[rel] else "[", close=")")


def _items(inner: str, depth: int) -> tuple[Shape, ...]:
    inner = inner.strip()
    if not inner:
        return ()
    return tuple(shape(p, depth + 1) for p in _split_list(inner)[:MAX_ITEMS])


def _split_list(s: str) -> list[str]:
    """Top-level items separated by commas, else by semicolons ("-12; -11; -10", "(0; -2; 6)")."""
    parts = split_top(s, ",")
    return split_top(s, ";") if len(parts) == 1 else parts


_OPERATOR = re.compile(
    r"[0-9+\-*/=<>^!]|\\(?:sqrt|cdot|times|div|pm|mp|log|ln|lg|exp|sum|prod|int|lim|binom|dfrac|tfrac)(?![a-zA-Z])"
)
_SUBSCRIPT = re.compile(r"_\{[^{}]*\}|_[a-zA-Z0-9]")


def is_variable(node: Shape) -> bool:
    """A lone name on the left of `=` ("x", "a_1", "\\theta"): its right side is the answer."""
    return node.kind == "scalar" and bool(_SIMPLE_VAR.fullmatch(node.text))


def is_name(node: Shape) -> bool:
    """What the left of `=` names when the right side is the answer: a variable, a tuple of them
    ("(p, q)"), or a quantity written with letters alone ("|AB|", "f(x)", "V_1:V_2", "\\frac{NO}{BO}").
    No digits or operators outside subscripts: "2x = 6" or "x + y = 5" state an equation, not a value."""
    if node.kind == "bracket":
        return (
            node.open == "(" and node.close == ")" and len(node.items) > 1 and all(is_variable(i) for i in node.items)
        )
    if node.kind != "scalar" or not node.text or len(node.text) > 40:
        return False
    bare = _SUBSCRIPT.sub("", node.text)
    return bool(re.search(r"[a-zA-Z]", bare)) and not _OPERATOR.search(bare)
