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
            if sep == "=" and (s[i - 1:i] in ("<", ">", "!", "=", "\\") or s[i + 1:i + 2] == "="):
                continue
            if sep == "\\cup" and s[i + 4:i + 5].isalpha():
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


def shape(s: str, depth: int = 0) -> Shape:
    s = s.strip()
    if depth > MAX_DEPTH or s.startswith("\\begin"):
        return Shape("scalar", text=s)
    if s.startswith("\\{") and s.endswith("\\}") and _encloses(s):
        return Shape("set", _items(s[2:-2], depth))
    commas = split_top(s, ",")
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
    if len(sides) == 2 and all(sides):
        return Shape("eq", (shape(sides[0], depth + 1), shape(sides[1], depth + 1)))
    if s.count("\\pm") == 1:
        return Shape("list", (shape(s.replace("\\pm", "+"), depth + 1), shape(s.replace("\\pm", "-"), depth + 1)))
    return Shape("scalar", text=s)


def _items(inner: str, depth: int) -> tuple[Shape, ...]:
    inner = inner.strip()
    if not inner:
        return ()
    return tuple(shape(p, depth + 1) for p in split_top(inner, ",")[:MAX_ITEMS])


def is_variable(node: Shape) -> bool:
    """A lone name on the left of `=` ("x", "a_1", "\\theta"): its right side is the answer."""
    return node.kind == "scalar" and bool(_SIMPLE_VAR.fullmatch(node.text))
