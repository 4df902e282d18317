"""Does a response end in a repetition loop? A precise, token-level definition.

A response (its generated token ids, cut at a budget) **ends in a repetition loop** when its tail is an
exact repetition of one block of tokens:

    there is a period p with 1 <= p <= MAX_PERIOD such that the last L tokens satisfy
    ids[i] == ids[i - p] for every i in the tail's last L - p positions, with
    L >= MIN_REPEATS * p   (the block occurs at least MIN_REPEATS times in a row, the last copy may be partial)
    L >= MIN_TAIL          (and the repetition covers a long tail, not a "}}}}" or "\\n\\n\\n" ending)

Equality is exact, on token ids: a near-loop (a counter that goes up, "x + 1, x + 2, x + 3, ...", or one
changed token in each copy) breaks the periodicity and does not count; nor does a loop in the middle of
the response followed by other text, since only the tail is looked at. A tail that starts inside a copy
of the block still counts (a budget cuts a loop anywhere). The defaults (block up to 256 tokens, at least
4 copies, tail of at least 64 tokens) catch the degenerate endings of long chains of thought, where
a model repeats a sentence or a formula until the budget runs out, and leave ordinary text alone.

`find_loop(ids)` returns the loop (smallest period, and where the periodic tail starts) or None;
`ends_in_loop(ids)` the bool the sample store keeps in its `repetition_loop` column, one per scored budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_PERIOD = 256
MIN_REPEATS = 4
MIN_TAIL = 64


@dataclass(frozen=True)
class Loop:
    period: int  # tokens in the repeated block
    start: int  # index of the first token of the periodic tail (ids[start:] repeats with this period)

    def tail(self, length: int) -> int:
        """Tokens covered by the loop in a response of `length` tokens."""
        return length - self.start


def find_loop(
    ids: Sequence[int], *, max_period: int = MAX_PERIOD, min_repeats: int = MIN_REPEATS, min_tail: int = MIN_TAIL
) -> Loop | None:
    """The repetition loop the response ends in (smallest qualifying period, longest tail), or None."""
    x = np.asarray(ids, dtype=np.int64)
    n = len(x)
    for p in range(1, min(max_period, n // min_repeats) + 1):
        need = max(min_repeats * p, min_tail)
        if need > n:
            continue
        if not np.array_equal(x[n - need + p :], x[n - need : n - p]):
            continue
        same = x[p:] == x[:-p]  # same[j]: ids[j + p] == ids[j]
        broken = np.flatnonzero(~same)
        start = 0 if len(broken) == 0 else int(broken[-1]) + 1  # ids[start:] is p-periodic
        return Loop(period=p, start=start)
    return None


def ends_in_loop(ids: Sequence[int] | None, **kwargs) -> bool | None:
    """True/False per the module's definition; None when there are no token ids to look at."""
    if ids is None:
        return None
    return find_loop(ids, **kwargs) is not None
