"""Find the final answer in a model response: plain string work, linear in the text, no sympy.

Where several answers are written, the model's last word counts (self-corrections), in this order:
an `Answer:` line written after the last box (the DAPO prompt's last-line format), the last complete
`\\boxed{}`/`\\fbox{}`, the last "the answer is ..." phrase, a short response that is itself the answer,
and, by policy, a bare number. Only the text after the last `</think>` is read when there is one.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from tasks.normalize import APPROX, WORD, matching_brace

BOXES = ("\\boxed", "\\fbox")
LAST_NUMBER_POLICIES = ("off", "line", "any")

# "Answer" in the languages models answer in: English, Chinese, Japanese, Korean, French, German, Spanish,
# Portuguese, Italian, Russian (prose answers in another language, under the same rules as English)
_ANSWER_WORD = (
    r"(?:(?:final[ \t]+)?answer|最终答案|答案|答え|정답|(?:r[ée]ponse|antwort|respuesta|resposta|risposta)"
    r"(?:[ \t]+(?:finale|final|finale))?|ответ)"
)
_ANSWER_LINE = re.compile(
    rf"(?im)^(?:[ \t>#*_]*{_ANSWER_WORD}[ \t]*(?:\*\*)?[ \t]*[:：]|[ \t]*####)[ \t]*(?:\*\*)?[ \t]*(.*)$"
)
_ANSWER_PHRASE = re.compile(
    r"(?i)(?:\banswer\b(?:\*\*)?\s*(?:is|would be|will be|should be|[:：=])"
    r"|(?:最终答案|答案)\s*(?:是|为|為|[:：=])|答えは|(?<![a-zA-Z])(?:r[ée]ponse|antwort|respuesta|resposta"
    r"|risposta|ответ)(?:\*\*)?\s*(?:est|ist|es|é|è|[:：=]))\s*:?\s*"
)
# what a chat model leaves after its last word: end-of-turn and end-of-text tokens
_SPECIAL_TOKENS = re.compile(
    r"(?:\s*(?:<\|[a-zA-Z0-9_]+\|>|</s>|<eos>|<end_of_turn>|<\uff5cend\u2581of\u2581sentence\uff5c>))+\s*$"
)
# Tokens that end a turn or the text, or open a new turn: what follows one is not part of the response (a
# fabricated next turn "...<|im_end|>\n<|im_start|>user\n...<|im_start|>assistant\n\\boxed{5}" carried an answer).
# Named tokens only: plain-text markers such as <|begin_of_solution|> (Sky-T1, OpenThoughts), <think> and <answer>
# frame an answer and must stay.
TURN_TOKENS = (
    "<|im_end|>",
    "<|im_start|>",
    "<|im_sep|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|begin_of_text|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|end|>",
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
    "<|endofturn|>",
    "<|end_of_sentence|>",
    "<|start_of_role|>",
    "<|end_of_role|>",
    "<|END_OF_TURN_TOKEN|>",
    "<|START_OF_TURN_TOKEN|>",
    "<|USER_TOKEN|>",
    "<|CHATBOT_TOKEN|>",
    "<|SYSTEM_TOKEN|>",
    "</s>",
    "<eos>",
    "<end_of_turn>",
    "<start_of_turn>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",
    "<\uff5cbegin\u2581of\u2581sentence\uff5c>",
    "<\uff5cUser\uff5c>",
    "<\uff5cAssistant\uff5c>",
    "[INST]",
)
_TURN_TOKEN = re.compile(  # TURN_TOKENS, factored by their first characters (one test per "<" in the text)
    r"<(?:\|(?:"
    + "|".join(re.escape(t[2:-2]) for t in TURN_TOKENS if t.startswith("<|"))
    + r")\|>|\uff5c(?:"
    + "|".join(re.escape(t[2:-2]) for t in TURN_TOKENS if t.startswith("<\uff5c"))
    + r")\uff5c>|(?:"
    + "|".join(re.escape(t[1:-1]) for t in TURN_TOKENS if t[0] == "<" and t[1] not in "|\uff5c")
    + r")>)|\[INST\]"
)
# characters that show nothing: zero-width space/joiners, word joiner, invisible operators, BOM, soft hyphen,
# direction marks, the Mongolian vowel separator
_INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u180e]")
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a decimal digit of another script or style: ٣, ３, 𝟑
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)  # an unclosed comment runs to the end
_LAST_DIGIT_BLOCK = 0x1FC00  # every decimal digit (Unicode category Nd) lies below this code point


@functools.cache
def _ascii_digits() -> dict[int, int]:
    """Each decimal digit of another script or style -> its ASCII digit (built once, ~10 ms)."""
    return {c: 48 + unicodedata.decimal(chr(c)) for c in range(128, _LAST_DIGIT_BLOCK) if chr(c).isdecimal()}


_PHRASE_LEAD = re.compile(r"(?i)(?:(?<![a-z])(?:the|my|our|final|your)\s+)+\Z")  # words a phrase may open with
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_SENTENCE_END = re.compile(r"\.(?=\s|$)|,\s+(?=[a-zA-Z]{2,}\b)|;\s|\n|[。！]")
_NUMBER = re.compile(r"[+-]?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][+-]?\d{1,3}(?![\d.]))?")
# a number as prose ends it: an optional currency sign before, a unit or currency after ("1,000.99€", "12 m²", "$5")
_PROSE_NUMBER = re.compile(
    r"[$€£¥]?\s*(" + _NUMBER.pattern + r")\s*(?:[€£¥$]|[a-zA-Zμ°]{1,3}[²³]?|[a-zA-Z]{1,3}\^\{?[23]\}?)?"
)
_LAST_BOLD = re.compile(r"\*\*\s*\$?\s*(" + _NUMBER.pattern + r")\s*\$?\s*\*\*\s*[.!]?\s*$")
_LAST_MATH = re.compile(r"\$([^$]+)\$\s*\.?\s*$")
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$([^$]+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_ENV = re.compile(r"\\(?:begin|end)\{[a-zA-Z*]*\}(?:\{[a-z|]*\})?")
# what may stand between boxes that together state one answer: "\boxed{1}, \boxed{2} and \boxed{3}"
_BOX_GAP = re.compile(
    r"(?:\s|[,;$]|\\[()\[\]]|\\q?quad(?![a-zA-Z])|\\[,;: ]|~|\b(?:and|or)\b|\\(?:text|mbox|textrm)\{\s*(?:and|or|,)?\s*\})*"
)
_JOINER = re.compile(r"[,;]|\b(?:and|or)\b")
# "\boxed{\frac{1}{3}} \approx \boxed{0.333}", "\boxed{\sqrt{2}}, numerically \boxed{\approx 1.41421}"
_APPROX_GAP = re.compile(r"[\s$]*(?:" + APPROX.pattern + r")[\s$]*")
_APPROX_BODY = re.compile(r"\s*(?:" + APPROX.pattern + ")")
MAX_APPROX_GAP = 80  # characters of prose allowed between an exact box and the box that approximates it
_VERB = re.compile(r"(?i)\b(?:is|are|equals|was|be)\b\s*:?\s*")
_BARE_BODY = re.compile(r"[^\s$]+")  # "\boxed 5"
MAX_BOXES = 32
# What introduces a format example: the intro, then only spacing, punctuation and math delimiters before the answer
_INTRO_GAP = r"(?:[\s$:,;\"'`*(\[\u201c\u2018\u00ab-]|\\[(\[])*"
_EXAMPLE_INTRO = re.compile(
    r"(?i)(?<![a-z])(?:for\s+(?:example|instance)|e\.\s?g\.?|eg\.|such\s+as|(?:in|into|of)\s+the\s+form(?:at)?(?:\s+of)?"
    r"|formatted\s+as|(?:format|answer)\s+like(?:\s+(?:this|so))?"
    r"|(?:put|place|write|enclose|wrap|give|present|provide|box|state|return|output|format)\s+your\s+(?:final\s+)?"
    r"(?:answer|result|response|solution)\s+(?:in(?:side)?|within|as|using|with|like|into)(?:\s+(?:a|an|the))?)"
    + _INTRO_GAP
    + r"\Z"
)
# "format:" on the answer's own line, unless the model names it its own ("in the required format: Answer: 42")
_FORMAT_INTRO = re.compile(
    r"(?i)(?:(?<![a-z])([a-z]+)[ \t]+)?(?<![a-z])format(?:ted)?(?:[ \t]+(?:is|as|like|of))?(?:[ \t$:,;\"'`*(\u201c\u2018-]|\\[(\[])*\Z"
)
_INTRO_WORDS = ("example", "instance", "e.g", "e. g", "eg.", "such", "form", "like", "your")  # in every intro above
_OWN_FORMAT = {"requested", "required", "specified", "desired", "expected", "correct", "proper", "given", "same"}
_OWN_FORMAT |= {"this", "that", "my", "our", "final", "asked", "necessary", "appropriate", "standard", "boxed"}
_PLACEHOLDER = re.compile(
    r"(?i)\s*(?:\\(?:text|mbox|textrm|mathrm)\{\s*)?(?:(?:your|the|final|my)\s+)*(?:answer|result)?(?:\s+here)?"
    r"\s*(?:\.{2,}|\\[lc]?dots|\?|_+|\\_+)?\s*\}?\s*"
)
_PLACEHOLDER_INTRO = re.compile(
    r"(?i)(?<![a-z])(?:in(?:side)?|within|using|with|like|as|into)(?:\s+(?:a|an|the))?" + _INTRO_GAP + r"\Z"
)
# The answer lives at the end: only this many final characters are read, so extraction costs the same on
# a 4 MB response as on a 64 KB one (~16k tokens of text after the last </think>).
MAX_SCAN_CHARS = 65536
MAX_PHRASES = 256  # "the answer is ..." phrases examined, from the last one back


def prepare_response(text: str) -> str:
    """The response as a reader sees it, before any answer is looked for. Linear, idempotent.

    - Characters that show nothing (zero-width spaces and joiners, soft hyphens, BOM) are dropped: "4\u200b2" is 42.
    - Hidden markup is dropped: an HTML comment `<!-- ... -->`, and an unclosed `<!--` with all after it.
    - The response ends at its first end-of-turn or end-of-text token (TURN_TOKENS): a next turn the model
      wrote itself is not its answer.
    - Digits of other scripts and styles (fullwidth, mathematical bold, Arabic-Indic, ...) become ASCII digits;
      superscripts and other non-decimal digits stay as they are.
    """
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
    text = _cut_at_turn_token(text)  # before the comments: a token a comment hides still ends the turn
    if "<!--" in text:
        dropped = _COMMENT.sub("", text)
        if "<!--" in dropped:  # kept text on both sides of a comment joined into a new opener (rare)
            dropped = _drop_comments(text)
        text = _cut_at_turn_token(
            dropped
        )  # dropping a comment may join a token's two halves  # dropping a comment may join a token's two halves
    if not text.isascii():
        if _OTHER_DIGIT.search(text):
            text = text.translate(_ascii_digits())
    return text


def _cut_at_turn_token(text: str) -> str:
    m = _TURN_TOKEN.search(text)
    return text[: m.start()] if m else text


def _drop_comments(text: str) -> str:
    """`text` without HTML comments, in one pass: text kept on both sides of a comment may join into a new
    `<!--` ("<!<!-- x -->-- y -->"), which opens a comment too, so no `<!--` is ever left (idempotent)."""
    out: list[str] = []  # kept pieces, none empty; their join never contains "<!--"
    i, n = 0, len(text)
    while i < n:
        j = text.find("<!--", i)
        piece = text[i:] if j < 0 else text[i:j]
        tail = _last_chars(out, 3)
        k = (tail + piece[:3]).find("<!--")  # an opener formed across the last cut
        if k >= 0:
            start = k - len(tail)  # where that opener starts, relative to `piece` (negative: in kept text)
            if start < 0:
                _drop_last(out, -start)
            elif start > 0:
                out.append(piece[:start])
            end = text.find("-->", i + start + 4)
        else:
            if piece:
                out.append(piece)
            if j < 0:
                break
            end = text.find("-->", j + 4)
        if end < 0:
            break  # an unclosed comment hides everything after it
        i = end + 3
    return "".join(out)


def _drop_last(out: list[str], count: int) -> None:
    while count > 0 and out:
        last = out.pop()
        if len(last) > count:
            out.append(last[:-count])
            return
        count -= len(last)


def _last_chars(out: list[str], count: int) -> str:
    tail = ""
    for piece in reversed(out):
        tail = piece[-count:] + tail
        if len(tail) >= count:
            return tail[-count:]
    return tail


def final_part(text: str, *, strict_think: bool = False) -> str | None:
    """The text after the last `</think>`; None for an unfinished thought when `strict_think`."""
    i = text.rfind("</think>")
    if i >= 0:
        return text[i + len("</think>") :]
    if strict_think and "<think>" in text:
        return None
    return text


def last_box(text: str, before: int | None = None) -> tuple[int, int, str | None] | None:
    """(start, end, body) of the last `\\boxed`/`\\fbox` (starting before `before`); body None when its braces never close.

    A box that a format example introduces ("for example \\boxed{5}", "put your answer in \\boxed{}") is the
    instructions restated, not an answer: it is skipped, and the box before it counts (see `format_example`)."""
    limit = len(text) if before is None else before
    for _ in range(MAX_BOXES):
        box = _box_before(text, limit)
        if box is None or box[2] is None or not format_example(text, box[0], box[2]):
            return box
        limit = box[0]
    return None  # a run of format examples and nothing else


def _box_before(text: str, limit: int) -> tuple[int, int, str | None] | None:
    start, name = max((text.rfind(b, 0, limit), b) for b in BOXES)
    if start < 0:
        return None
    j = start + len(name)
    while j < len(text) and text[j] == " ":
        j += 1
    if j < len(text) and text[j] == "{":
        end = matching_brace(text, j)
        return (start, len(text), None) if end < 0 else (start, end + 1, text[j + 1 : end])
    m = _BARE_BODY.match(text, j)
    return (start, m.end(), m.group()) if m and j > start + len(name) else (start, len(text), None)


def format_example(text: str, start: int, body: str | None = None) -> bool:
    """Whether the answer written at `start` (a box, an `Answer:` line or phrase) is a format example that
    restates the instructions: introduced right before it by "for example", "e.g.", "such as", "in the form",
    "put your answer in", or on the same line by "format:" (not "in the required format:", which presents the
    model's own answer). A placeholder box (`\\boxed{}`, `\\boxed{...}`, `\\boxed{answer}`) is one after "in",
    "like" or "as" too. The intro must stand right before the answer: in "The answer, for example when n=3, is
    \\boxed{7}" the box is the answer."""
    window = text[max(0, start - 100) : start]
    low = window.lower()
    if any(word in low for word in _INTRO_WORDS):  # a cheap test first: answer lines may come by the thousand
        if _EXAMPLE_INTRO.search(window):
            return True
        m = _FORMAT_INTRO.search(window)
        if m and (m.group(1) or "").lower() not in _OWN_FORMAT:
            return True
    return body is not None and bool(_PLACEHOLDER.fullmatch(body)) and bool(_PLACEHOLDER_INTRO.search(window))


def approx_box(text: str, last: tuple[int, int, str]) -> tuple[int, int, str] | None:
    """An approximation box and the exact box before it, read as one answer "E \\approx d".

    The last box approximates when its body opens with \\approx or when \\approx alone stands between it and the
    box before ("\\boxed{\\frac{1}{3}} \\approx \\boxed{0.333}"); the grader then checks that d approximates E.
    """
    prev = last_box(text, last[0])
    if prev is None or prev[2] is None or prev[1] > last[0] or APPROX.search(prev[2]):
        return None
    gap, body = text[prev[1] : last[0]], last[2]
    opens = _APPROX_BODY.match(body)
    if opens and len(gap) <= MAX_APPROX_GAP:
        return prev[0], last[1], f"{prev[2]} \\approx {body[opens.end() :].strip()}"
    if _APPROX_GAP.fullmatch(gap) and not APPROX.search(body):
        return prev[0], last[1], f"{prev[2]} \\approx {body.strip()}"
    return None


def box_run(text: str) -> tuple[int, int, str | None] | None:
    """Like `last_box`, but boxes written as one list ("\\boxed{1}, \\boxed{2} and \\boxed{3}") are joined.

    Boxes join only when nothing but separators lies between them and at least one of those is an
    explicit joiner (a comma, "and", "or"); anything else ("\\boxed{3} ... wait ... \\boxed{4}") is a
    self-correction, and the last box alone counts.
    """
    last = last_box(text)
    if last is None or last[2] is None:
        return last
    approx = approx_box(text, last)
    if approx is not None:
        return approx
    bodies, start = [box_value(last[2])], last[0]
    while len(bodies) < MAX_BOXES:
        prev = last_box(text, start)
        if prev is None or prev[2] is None or prev[1] > start:
            break
        gap = text[prev[1] : start]
        if _BOX_GAP.fullmatch(gap) is None or not _JOINER.search(gap):
            break
        bodies.append(box_value(prev[2]))
        start = prev[0]
    return (start, last[1], ", ".join(reversed(bodies)))


def box_value(body: str) -> str:
    """The value a box that wraps prose states: "\\text{The answer is } 73" -> "73", "\\text{The value of } x
    \\text{ is } 5" -> "5". Only a statement ("... is X", "answer: X") whose X is the one value in the box counts:
    a box of words ("\\text{no solution}"), of two numbers ("\\text{either 5 or it is } 6") or of a bound
    ("\\text{more than } 3") stays as written (and compares as words)."""
    if len(body) > 2000 or not re.search(r"[a-zA-Z]{3}", body):
        return body
    flat = re.sub(r"\s+", " ", _TEXT_BODY.sub(r" \1 ", body)).strip()
    if _prose_words(flat) < 2:
        return body
    value = answer_phrase(flat)
    if value is None:
        verbs = list(_VERB.finditer(flat))
        value = _delimited(flat[verbs[-1].end() :]) if verbs else None
    if not value or not _looks_like_answer(value) or re.search(r"\d", flat.replace(value, " ", 1)):
        return body
    return value.strip()


_TEXT_BODY = re.compile(r"\\(?:text|mbox|textrm|textbf|textit|textnormal|mathrm)\s*\{([^{}]*)\}")
# a justification after the answer on its line: "42 (since 6 \cdot 7 = 42)", "42 (mod 1000)", "42 \pmod{1000}"
_JUSTIFICATION = re.compile(
    r"(?i)(?<=\S)\s*(?:\(\s*(?:since|because|as|from|by|using|via|mod(?:ulo)?|\\(?:bmod|mod|pmod)|which|where|this|that"
    r"|i\.e\.|note|check(?:ed|ing)?|verified|remainder|rounded|computed|calculated|obtained|found|see)(?![a-z])"
    r"(?:[^()]|\([^()]*\))*\)|\\pmod\s*\{[^{}]*\})\s*\.?\s*$"
)


_HEDGE = re.compile(r"(?i)(?<![a-z])(?:or|also|alternatively|either|maybe|possibly|perhaps|otherwise|unless)(?![a-z])")


def drop_justification(line: str) -> str:
    """An answer line without the justification that follows its answer: "42 (since 6 \\cdot 7 = 42)" -> "42".
    Only a parenthesis opening with a word of reasoning ("since", "mod", "because", ...) is dropped: "42 (or 43)"
    is a hedge and stays, "2(x+1)" is algebra and stays."""
    if len(line) > 2000:
        return line
    m = _JUSTIFICATION.search(line)
    if m is None or _HEDGE.search(m.group()):  # "42 (by symmetry, or -42)" names another answer
        return line
    return line[: m.start()].rstrip()


def _prose_words(text: str) -> int:
    """Words of prose in `text`, not counting math spans, LaTeX commands or environment names."""
    text = _MATH_SPAN.sub(" ", text)
    text = _ENV.sub(" ", text)
    text = re.sub(r"\\(?:text|mbox|mathrm|textbf)\{[^{}]*\}", " ", text)
    return len(WORD.findall(text))


def sentence_value(s: str) -> str:
    """The value a short answer sentence states: "The largest $n$ is 34" -> "34"; plain answers unchanged."""
    if len(s) > 2000 or _prose_words(s) < 2:
        return s
    found = None
    for m in _VERB.finditer(s):
        body = _delimited(s[m.end() :])
        if _looks_like_answer(body):
            found = body
    if found is not None:
        return found
    spans = [next(g for g in m.groups() if g is not None) for m in _MATH_SPAN.finditer(s)]
    if len(spans) == 1:
        return spans[0]
    numbers = _NUMBER.findall(_MATH_SPAN.sub(" ", s))
    if not spans and len(numbers) == 1:
        return numbers[0]
    return s


def _delimited(rest: str) -> str:
    """The answer that starts `rest`: a `$...$`-style math span, else the rest of the sentence."""
    rest = rest.lstrip(" \t*")
    for open_, close in _DELIMS:
        if rest.startswith(open_):
            end = _closer(rest, close, len(open_))
            if end > 0:
                return rest[len(open_) : end]
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
        if format_example(text, m.start()) or in_example_block(text, m.start()):  # "For example:\nAnswer: 5"
            continue
        body = m.group(1).strip()
        if not body:  # "Answer:" on its own line, the answer on the next
            body = text[m.end() : m.end() + 2000].lstrip("\n").split("\n", 1)[0].strip()
        if body:
            found = body
    return found


_EXAMPLE_BLOCK = re.compile(r"(?i)[\s>#*_]*example\s*(?:\d+\s*)?[*_]*[:.]")
MAX_EXAMPLE_BLOCK = 2000


def in_example_block(text: str, start: int) -> bool:
    """Whether `start` lies in a paragraph that opens with "Example:": a prompt's worked example restated (the
    "steps" template shows one ending in "Answer: 24"), not the response's own answer."""
    lo = max(0, start - MAX_EXAMPLE_BLOCK)
    para = text.rfind("\n\n", lo, start)
    if para < 0 and lo > 0:
        return False  # a paragraph longer than MAX_EXAMPLE_BLOCK: not a short worked example
    return bool(_EXAMPLE_BLOCK.match(text, para + 2 if para >= 0 else 0))


def answer_phrase(text: str) -> str | None:
    """The answer in the last "the answer is X" / "final answer: X" phrase that names one (of the last
    MAX_PHRASES phrases)."""
    for m in list(_ANSWER_PHRASE.finditer(text))[-1 : -MAX_PHRASES - 1 : -1]:
        lead = _PHRASE_LEAD.search(text, max(0, m.start() - 40), m.start())  # "e.g. the final answer: 5"
        if format_example(text, lead.start() if lead else m.start()) or in_example_block(text, m.start()):
            continue
        body = _delimited(text[m.end() : m.end() + 2000])
        if _looks_like_answer(body):
            return body
    return None


def scan_tail(part: str) -> str:
    """The last MAX_SCAN_CHARS characters of `part`, from a line start when one is near the cut. A box opened
    before the cut and still open at it is the answer: the tail then starts at that box, and as its body does
    not close within the tail it is an unfinished answer, hence no answer (never a phrase from inside it)."""
    if len(part) <= MAX_SCAN_CHARS:
        return part
    cut = len(part) - MAX_SCAN_CHARS
    newline = part.find("\n", cut, cut + 4096)
    start = newline + 1 if newline >= 0 else cut
    box = max(part.rfind(b, 0, start) for b in BOXES)
    if box >= 0:
        opened = part.count("{", box, start) - part.count("\\{", box, start)
        closed = part.count("}", box, start) - part.count("\\}", box, start)
        if opened > closed:
            return part[box : box + MAX_SCAN_CHARS]
    return part[start:]


def whole_answer(text: str, max_chars: int = 300) -> str | None:
    """A short response with no prose is itself the answer ("$\\frac{1}{2}$", "x = 3", "Devon")."""
    s = text.strip()
    if not s or len(s) > max_chars:
        return None
    spans = list(_MATH_SPAN.finditer(s))
    if len(spans) == 1 and spans[0].group() != s and _prose_words(s) <= 8:  # "Therefore $x \ge 5$ is the solution."
        return next(g for g in spans[0].groups() if g is not None)
    prose = _ENV.sub("", re.sub(r"\\(?:text|mbox|mathrm)\{[^{}]*\}", "", s))
    m = _LAST_MATH.search(s)  # "So $x = 4$." : a short sentence that ends in its answer
    if m and m.start() > 0 and "$" not in s[: m.start()] and len(WORD.findall(s[: m.start()])) <= 3:
        return m.group(1)
    return s if len(WORD.findall(prose)) <= 1 else None


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
        bold = _LAST_BOLD.search(lines[-1])  # "... so the total is **92**."
        if bold:
            return bold.group(1)
        line = lines[-1].strip().strip("*$ ").rstrip(".").strip()
        m = _PROSE_NUMBER.fullmatch(line)
        return m.group(1) if m else None
    return None


def strip_special_tokens(text: str, window: int = 1024) -> str:
    """`text` without the special tokens (and spaces) that end it ("42<|im_end|>"). The pattern is anchored at the
    end, but a regex search would still try it at every position of a 64k-character response: it runs on the
    last `window` characters, again while it keeps cutting (a run of tokens longer than the window)."""
    while True:
        head, tail = text[:-window], text[-window:]
        cut = head + _SPECIAL_TOKENS.sub("", tail)
        if len(cut) == len(text) or not cut:
            return cut
        text = cut


def extract_answer(
    text: str, *, last_number_policy: str = "line", whole_response: bool = True, strict_think: bool = False
) -> str | None:
    """The final answer as written (still LaTeX), or None when the response gives none."""
    part = final_part(prepare_response(text), strict_think=strict_think)
    if part is None or not part.strip():
        return None
    part = strip_special_tokens(scan_tail(part))
    tags = _ANSWER_TAG.findall(part)
    if tags and tags[-1].strip():  # the R1-Zero format: what the last <answer> tag holds is the answer region
        inner = tags[-1].strip()
        return extract_answer(inner, last_number_policy=last_number_policy, whole_response=True) or inner
    box = box_run(part)
    after = part[box[1] :] if box else part
    line = answer_line(after)
    if line is not None:  # "Final Answer: The final answer is $5$. I hope it is correct."
        line = drop_justification(line)
        return sentence_value(answer_phrase(line) or _delimited(line))
    if box:
        if box[2] is not None:  # "\boxed{255} ... The final answer is $10,455$.": the last word counts
            phrase = answer_phrase(after)
            if phrase is not None:
                return sentence_value(phrase)
        return box[2]  # None when the last box never closes: an unfinished answer is no answer
    phrase = answer_phrase(part)
    if phrase is not None:
        return sentence_value(phrase)
    if any(b in part for b in BOXES):  # boxes, each a format example: the response's own answer is not there
        return None
    if whole_response:
        whole = whole_answer(part)
        if whole is not None:
            return whole
    return last_number(part, last_number_policy)


_PART_LABEL = re.compile(
    r"(?i)(?:^|[\s*(\[])(?:\(([a-h]|i{1,3}|iv|vi{0,3}|[1-9])\)|([a-h]|[1-9])\)"
    r"|part\s+\(?([a-h]|[1-9]|i{1,3}|iv|v)(?![a-zA-Z0-9])\)?)"
)


def part_boxes(text: str, parts: int, *, strict_think: bool = False) -> str | None:
    """One answer spread over several boxes of a multi-part question: "(a) ... \\boxed{3} (b) ... \\boxed{5}" -> "3, 5".

    Only the last `parts` boxes count, and each must follow its own part label ("(a)", "b)", "Part 2", "(ii)")
    written after the box before it, with no label repeated: a self-correction ("\\boxed{3} ... no, \\boxed{5}") or
    a hedge between alternatives has no labels, so it is never read as a list."""
    part = final_part(prepare_response(text), strict_think=strict_think)
    if part is None or parts < 2:
        return None
    part = strip_special_tokens(scan_tail(part))
    boxes, before = [], None
    while len(boxes) < parts:
        box = last_box(part, before)
        if box is None or box[2] is None:
            return None
        boxes.append(box)
        before = box[0]
    boxes.reverse()
    labels = []
    for i, (start, _, _) in enumerate(boxes):
        gap = part[boxes[i - 1][1] : start] if i else part[max(0, start - 400) : start]
        found = [next(g for g in m.groups() if g) for m in _PART_LABEL.finditer(gap)]
        if not found:
            return None
        labels.append(found[-1].lower())
    if len(set(labels)) != len(labels):
        return None
    return ", ".join(body.strip() for _, _, body in boxes)


def gold_answer(gold: str) -> str:
    """Gold answers come as "25", "025", "$\\frac12$", "\\boxed{25}" or GSM8K's "... #### 25"."""
    gold = prepare_response(gold)  # "٢٥" and "2\u200b5" are 25 in a gold answer too
    if "####" in gold:
        gold = gold.rsplit("####", 1)[1]
    box = box_run(gold)
    if box and box[2] is not None:
        return box[2]
    if (
        len(gold) <= 20000 and _prose_words(gold) >= 4
    ):  # a worked solution given as the reference: read its final answer
        found = extract_answer(gold, last_number_policy="off")
        if found:
            return found
    return gold.strip()
