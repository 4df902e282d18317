"""Find the final answer in a model response: plain string work, linear in the text, no sympy.

Where several answers are written, the model's last word counts (self-corrections), in this order:
an `Answer:` line written after the last box (the DAPO prompt's last-line format), the last complete
`\\boxed{}`/`\\fbox{}`, the last "the answer is ..." phrase, a short response that is itself the answer,
and, by policy, a bare number. Only the text after the last `</think>` is read when there is one.
"""

from __future__ import annotations

import re

from tasks.normalize import matching_brace

BOXES = ("\\boxed", "\\fbox")
LAST_NUMBER_POLICIES = ("off", "line", "any")

_ANSWER_LINE = re.compile(r"(?im)^(?:[ \t>#*_]*(?:final[ \t]+)?answer[ \t]*(?:\*\*)?[ \t]*[:：]|[ \t]*####)[ \t]*(?:\*\*)?[ \t]*(.*)$")
_ANSWER_PHRASE = re.compile(r"(?i)\banswer\b(?:\*\*)?\s*(?:is|would be|will be|should be|[:：=])\s*:?\s*")
_SENTENCE_END = re.compile(r"\.(?=\s|$)|,\s+(?=[a-zA-Z]{2,}\b)|;\s|\n")
_NUMBER = re.compile(r"[+-]?\d+(?:,\d{3})*(?:\.\d+)?")
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_LAST_MATH = re.compile(r"\$([^$]+)\$\s*\.?\s*$")
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def final_part(text: str, *, strict_think: bool = False) -> str | None:
    """The text after the last `</think>`; None for an unfinished thought when `strict_think`."""
    i = text.rfind("</think>")
    if i >= 0:
        return text[i + len("</think>"):]
    if strict_think and "<think>" in text:
        return None
    return text


def last_box(text: str) -> tuple[int, int, str | None] | None:
    """(start, end, body) of the last `\\boxed`/`\\fbox`; body None when its braces never close."""
    start, name = max((text.rfind(b), b) for b in BOXES)
    if start < 0:
        return None
    j = start + len(name)
    while j < len(text) and text[j] == " ":
        j += 1
    if j < len(text) and text[j] == "{":
        end = matching_brace(text, j)
        return (start, len(text), None) if end < 0 else (start, end + 1, text[j + 1:end])
    m = re.compile(r"[^\s$]+").match(text, j)  # "\boxed 5"
    return (start, m.end(), m.group()) if m and j > start + len(name) else (start, len(text), None)


def _delimited(rest: str) -> str:
    """The answer that starts `rest`: a `$...$`-style math span, else the rest of the sentence."""
    rest = rest.lstrip(" \t*")
    for open_, close in _DELIMS:
        if rest.startswith(open_):
            end = _closer(rest, close, len(open_))
            if end > 0:
                return rest[len(open_):end]
    m = _SENTENCE_END.search(rest)
    return rest[: m.start()] if m else rest


def _closer(text: str, close: str, start: int) -> int:
    """Index of `close` at or after `start`, skipping an escaped dollar `\\$`; -1 if none."""
    end = text.find(close, start)
    while close == "$" and end > 0 and text[end - 1] == "\\":
        end = text.find(close, end + 1)
    return end


def _looks_like_answer(s: str) -> bool:
    """Filters "the answer is correct": an answer has a digit, LaTeX, or is a choice letter or short."""
    s = s.strip().strip("*$ ").strip()
    if not s:
        return False
    return bool(re.search(r"[\d\\^=]", s)) or (len(s) <= 2 and s.isalpha())


def answer_line(text: str) -> str | None:
    """Content of the last `Answer: ...` (or GSM8K-style `#### ...`) line that carries one."""
    found = None
    for m in _ANSWER_LINE.finditer(text):
        body = m.group(1).strip()
        if not body:  # "Answer:" on its own line, the answer on the next
            nxt = text[m.end():].lstrip("\n").split("\n", 1)[0].strip()
            body = nxt
        if body:
            found = body
    return found


def answer_phrase(text: str) -> str | None:
    """The answer in the last "the answer is X" / "final answer: X" phrase that names one."""
    found = None
    for m in _ANSWER_PHRASE.finditer(text):
        body = _delimited(text[m.end(): m.end() + 2000])
        if _looks_like_answer(body):
            found = body
    return found


def whole_answer(text: str, max_chars: int = 300) -> str | None:
    """A short response with no prose is itself the answer ("$\\frac{1}{2}$", "x = 3", "Devon")."""
    s = text.strip()
    if not s or len(s) > max_chars:
        return None
    prose = re.sub(r"\\(?:text|mbox|mathrm)\{[^{}]*\}", "", s)
    m = _LAST_MATH.search(s)  # "So $x = 4$." : a short sentence that ends in its answer
    if m and m.start() > 0 and "$" not in s[: m.start()] and len(_WORD.findall(s[: m.start()])) <= 3:
        return m.group(1)
    return s if len(_WORD.findall(prose)) <= 1 else None


def last_number(text: str, policy: str) -> str | None:
    """A bare number by policy: "line" (the last non-empty line is only a number), "any", or "off"."""
    if policy == "any":
        start = max(0, len(text) - 4000)
        found = None
        for m in _NUMBER.finditer(text, start):
            found = m.group()
        return found
    if policy == "line":
        lines = text.rstrip().rsplit("\n", 1)
        line = lines[-1].strip().strip("*$ ").rstrip(".").strip()
        return line if _NUMBER.fullmatch(line) else None
    return None


def extract_answer(text: str, *, last_number_policy: str = "line", whole_response: bool = True,
                   strict_think: bool = False) -> str | None:
    """The final answer as written (still LaTeX), or None when the response gives none."""
    part = final_part(text, strict_think=strict_think)
    if part is None or not part.strip():
        return None
    box = last_box(part)
    after = part[box[1]:] if box else part
    line = answer_line(after)
    if line is not None:  # "Final Answer: The final answer is $5$. I hope it is correct."
        return answer_phrase(line) or _delimited(line)
    if box:
        return box[2]  # None when the last box never closes: an unfinished answer is no answer
    phrase = answer_phrase(part)
    if phrase is not None:
        return phrase
    if whole_response:
        whole = whole_answer(part)
        if whole is not None:
            return whole
    return last_number(part, last_number_policy)


def gold_answer(gold: str) -> str:
    """Gold answers come as "25", "025", "$\\frac12$", "\\boxed{25}" or GSM8K's "... #### 25"."""
    if "####" in gold:
        gold = gold.rsplit("####", 1)[1]
    box = last_box(gold)
    if box and box[2] is not None:
        return box[2]
    return gold.strip()
