"""Answer policies: which part of a response the checker reads, and whether a response cut by a budget answered.

The number at each budget is decided by what the checker reads in a response *cut* at that budget, so this
is a stated policy, named, recorded with every verdict, and one flag away from the policies peers use.

`committed` (the default; DESIGN.md "The verdict at the budget cut" gives the reasons): the verdict at
budget B is what the model had committed to within B tokens.
- A thought that closed (`</think>`) with a final answer, a box or an `Answer:` line among its last
  CLOSING_CHARS characters, has committed to it, even when the text after `</think>` is cut short or empty.
  When the text after `</think>` states an answer, that has the last word (a model may correct itself in
  its summary); in a cut summary only finished lines and closed boxes count.
- A response cut before its thought closed (for a model that writes no thought tags: cut before it
  finished) has not committed to what it wrote in passing ("perhaps the answer is 25. Wait, ..."): no
  answer, unless the very last thing written before the cut is a closed box (`**Final Answer** \\boxed{25}`,
  cut before the `</think>` that would have followed). A box followed by more reasoning is a hedge.
- A response that finished (not cut) and wrote no `</think>` is read as a whole, as always.

Peers' policies, for reproducing their figures: `after-think` (only the text after the last `</think>`,
the whole response when there is none; QwQ's evaluation, and this checker before policies existed),
`last-box` (the last `\\boxed{}` anywhere in the response, no answer when it never closes; the
Qwen2.5-Math evaluation, AIME-Preview), `strict` (a cut response has no answer; a finished one is read as
`committed` reads it).

A policy only *finds* the answer (a string as written, or None); verifying it against the gold is the same
for every policy (tasks/grading.py). Every policy reads the response after `prepare_response` (the text
after an end-of-turn token is not part of the response; hidden markup dropped).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tasks.errors import TaskError
from tasks.extract import answer_line, box_run, extract_answer, last_box, prepare_response

THINK_END = "</think>"
CLOSING_CHARS = 200  # a closed thought's final answer stands among its last this many characters
# what may follow a box that ends a cut response: spaces, punctuation and closing markup ("$.", "**", "\\]")
_TRAILER = re.compile(r"(?:\s|[.,;:!$*)\]}]|\\[\])])*")


@dataclass(frozen=True)
class Reading:
    """What a policy read: the answer as written (None: no answer) and the text it was read from (multi-part
    questions look for one box per part there)."""

    answer: str | None
    region: str


@dataclass(frozen=True)
class Policy:
    name: str
    summary: str  # one line for --help and the docs
    read: Callable[..., Reading]  # read(text, *, truncated, last_number, whole_response, strict_think)
    whole_text: bool = True  # a finished response that is the gold answer, character for character, is right


def _read_whole(text: str, last_number: str, whole_response: bool, strict_think: bool) -> Reading:
    """The response's own rules (tasks.extract): the text after the last `</think>`, else all of it."""
    answer = extract_answer(
        text, last_number_policy=last_number, whole_response=whole_response, strict_think=strict_think
    )
    return Reading(answer, text)


def after_think(text: str, *, truncated: bool, last_number: str, whole_response: bool, strict_think: bool):
    return _read_whole(text, last_number, whole_response, strict_think)


def last_box_anywhere(text: str, *, truncated: bool, last_number: str, whole_response: bool, strict_think: bool):
    box = last_box(text)
    return Reading(box[2] if box else None, text)


def committed(text: str, *, truncated: bool, last_number: str, whole_response: bool, strict_think: bool):
    end = text.rfind(THINK_END)
    if end < 0:
        if not truncated:
            return _read_whole(text, last_number, whole_response, strict_think)
        return Reading(final_box(text), text)  # cut before it finished: only a box it ended on
    thought, summary = text[:end], text[end + len(THINK_END) :]
    if truncated:
        summary = finished_part(summary)
        answer = extract_answer(summary, last_number_policy="off", whole_response=False)  # explicit forms only
    else:
        answer = extract_answer(summary, last_number_policy=last_number, whole_response=whole_response)
    if answer is not None:
        return Reading(answer, summary)  # the summary has the last word
    return Reading(closing_answer(thought), thought[-CLOSING_CHARS * 4 :])


def strict(text: str, *, truncated: bool, last_number: str, whole_response: bool, strict_think: bool):
    if truncated:
        return Reading(None, text)
    return committed(
        text, truncated=False, last_number=last_number, whole_response=whole_response, strict_think=strict_think
    )


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy("committed", "what the model had committed to within the budget (DESIGN.md)", committed),
        Policy(
            "after-think", "only the text after </think> (QwQ's evaluation; this checker before policies)", after_think
        ),
        Policy(
            "last-box",
            "the last \\boxed{} anywhere (Qwen2.5-Math evaluation, AIME-Preview)",
            last_box_anywhere,
            whole_text=False,
        ),
        Policy("strict", "a response cut by the budget has no answer; others as committed", strict),
    )
}
DEFAULT_POLICY = "committed"
LEGACY_POLICY = "after-think"  # what verdicts stored before answer policies existed were graded by


def get_policy(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise TaskError(f"unknown answer policy {name!r}; known: {', '.join(POLICIES)}") from None


def read_answer(
    text: str,
    *,
    policy: str = DEFAULT_POLICY,
    truncated: bool = False,
    last_number: str = "line",
    whole_response: bool = True,
    strict_think: bool = False,
) -> Reading:
    """The answer `policy` reads in a response (cut by a budget when `truncated`)."""
    return get_policy(policy).read(
        prepare_response(text),
        truncated=truncated,
        last_number=last_number,
        whole_response=whole_response,
        strict_think=strict_think,
    )


# ---- the pieces of `committed` ------------------------------------------------------------------


def finished_part(text: str) -> str:
    """A cut text without its unfinished last line ("Answer: 2" may have become "Answer: 204"); a box that
    closed on that line is complete and stays."""
    nl = text.rfind("\n")
    head, last = text[: nl + 1], text[nl + 1 :]
    before = None
    while True:
        box = last_box(last, before)
        if box is None:
            return head
        if box[2] is not None:
            return head + last[: box[1]]
        before = box[0]


def final_box(text: str) -> str | None:
    """The box a cut response ended on: nothing but spaces, punctuation and closing markup after it."""
    box = box_run(text)
    if box is None or box[2] is None or not _TRAILER.fullmatch(text, box[1]):
        return None
    return box[2]


def closing_answer(thought: str) -> str | None:
    """The final answer a closed thought ends with: its last box, or its last `Answer:` line, ending among
    the thought's last CLOSING_CHARS characters. Found by explicit forms only (no phrases, no bare numbers)."""
    tail = thought[-CLOSING_CHARS * 4 :]  # room for the answer itself before the closing characters
    limit = max(len(tail) - CLOSING_CHARS, 0)
    found, found_end = None, -1
    box = box_run(tail)
    if box is not None and box[2] is not None and box[1] >= limit:
        found, found_end = box[2], box[1]
    offset = tail.rfind("\n", 0, limit) + 1  # the lines that end among the closing characters
    for line in tail[offset:].split("\n"):
        offset += len(line) + 1
        if offset - 1 > found_end and answer_line(line) is not None:
            answer = extract_answer(line, last_number_policy="off", whole_response=False)
            if answer is not None:
                found, found_end = answer, offset - 1
    return found
