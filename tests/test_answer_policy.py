"""The verdict at the budget cut (tasks/policy.py, DESIGN.md "The verdict at the budget cut").

Responses of each shape, cut and uncut, through `tasks.grade(..., truncated=)`; every named policy held to a small
reference implementation written here from its one-line description, over a grid of response shapes.
"""

from __future__ import annotations

import itertools
import re

import pytest

from tasks import grade
from tasks.errors import TaskError
from tasks.grading import GradeConfig, config_for
from tasks.policy import CLOSING_CHARS, DEFAULT_POLICY, POLICIES

GOLD = "204"
FINAL_BOX = "**Final Answer**\n\\boxed{204}\n"
REASONING = "We count the arrangements. There are 17 cases with 12 each, so 204 in all.\n\n"


def verdict(text: str, *, truncated: bool, policy: str = DEFAULT_POLICY, gold: str = GOLD, kind: str = "integer"):
    return grade(text, gold, config=config_for(kind, policy), truncated=truncated)


# ---- point 1: a closed thought that ends with a final answer has committed to it -------------------------


@pytest.mark.parametrize(
    "summary",
    [
        "",  # the budget ran out right after </think>
        "\n\nTo solve this problem we first",  # the summary is cut mid-sentence
        "\n\nThe answer is \\boxed{20",  # cut inside the summary's own box
        "\n\n## Solution\nAnswer: 2",  # cut inside an Answer: line (it may have become 204)
    ],
)
def test_a_closed_thought_with_a_final_box_has_committed_when_the_summary_is_cut(summary):
    text = "<think>\n" + REASONING + FINAL_BOX + "</think>" + summary
    g = verdict(text, truncated=True)
    assert (g.status, g.extracted) == ("correct", "204")
    assert not verdict(text, truncated=True, policy="after-think").correct  # the old, backwards verdict
    assert verdict(text, truncated=True, policy="strict").status == "no_answer"


def test_an_answer_line_closing_the_thought_commits_too():
    text = "<think>\n" + REASONING + "Answer: 204\n</think>\n\nWe"
    assert verdict(text, truncated=True).status == "correct"


def test_an_empty_summary_after_a_finished_thought_reads_the_thought_uncut_too():
    text = "<think>\n" + REASONING + FINAL_BOX + "</think>\n\n"
    assert verdict(text, truncated=False).status == "correct"


def test_the_summary_has_the_last_word():
    corrected = "<think>\n" + REASONING + FINAL_BOX + "</think>\n\nOn reflection, the answer is \\boxed{205}."
    for cut in (False, True):
        g = verdict(corrected, truncated=cut)
        assert (g.status, g.extracted) == ("wrong", "205")
    # a box that closed on the cut summary's last line is complete
    g = verdict("<think>\n" + REASONING + "\\boxed{7}\n</think>\n\nSo \\boxed{204} and", truncated=True)
    assert (g.status, g.extracted) == ("correct", "204")


def test_a_box_early_in_a_closed_thought_is_not_its_final_answer():
    early = "<think>\nMaybe \\boxed{204}.\n" + "Wait, that ignores the symmetric cases. " * 12 + "\n</think>\n\nWe"
    assert len(early.split("\\boxed{204}")[1]) > CLOSING_CHARS
    assert verdict(early, truncated=True).status == "no_answer"


# ---- point 1: a cut, unfinished thought has not committed to what it wrote in passing --------------------


@pytest.mark.parametrize("opening", ["<think>\n", ""])  # thought tags, or a model that writes none
def test_a_hedge_in_a_cut_thought_is_no_answer(opening):
    text = opening + REASONING + "So, perhaps the answer is 204. Wait, let me check this another way"
    assert verdict(text, truncated=True).status == "no_answer"
    assert verdict(text, truncated=True, policy="after-think").status == "correct"  # the old, backwards verdict
    assert verdict(text, truncated=False).status == "correct"  # finished: its last word stands


@pytest.mark.parametrize("opening", ["<think>\n", ""])
def test_a_box_followed_by_more_reasoning_in_a_cut_thought_is_a_hedge(opening):
    text = opening + REASONING + "So the answer is \\boxed{204}. Wait, let me double-check the case n = 3"
    assert verdict(text, truncated=True).status == "no_answer"
    assert verdict(text, truncated=True, policy="last-box").status == "correct"


@pytest.mark.parametrize("opening", ["<think>\n", ""])
@pytest.mark.parametrize("trailer", ["", "\n", ".", "$.\n", "**\n\n"])
def test_a_box_the_cut_response_ended_on_is_committed(opening, trailer):
    """The budget ran out after the final box, before the </think> (or the end) that would have followed."""
    text = opening + REASONING + "**Final Answer**\n$\\boxed{204}" + trailer
    assert verdict(text, truncated=True).status == "correct"


def test_a_cut_box_that_never_closed_is_no_answer():
    assert verdict("<think>\n" + REASONING + "**Final Answer**\n\\boxed{20", truncated=True).status == "no_answer"


def test_uncut_responses_without_a_closed_thought_keep_todays_verdicts():
    for text in ("The answer is 204.", "\\boxed{204}", REASONING + "Answer: 204", "204"):
        assert verdict(text, truncated=False).status == verdict(text, truncated=False, policy="after-think").status
        assert verdict(text, truncated=False).status == "correct"


def test_an_exact_response_cut_by_the_budget_is_not_an_answer():
    assert verdict("204", truncated=True).status == "no_answer"  # "204" might have become "2048"
    assert verdict("204", truncated=False).status == "correct"


# ---- point 2: named policies, each against a reference written from its description ---------------------


def ref_last_box(text: str) -> str | None:
    """The last \\boxed{} anywhere in the response; no answer when it never closes."""
    i = text.rfind("\\boxed{")
    if i < 0:
        return None
    depth = 0
    for j in range(i + len("\\boxed"), len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + len("\\boxed{") : j]
    return None


def ref_committed(text: str, truncated: bool) -> str | None:
    """The default policy, as DESIGN.md states it, for the grid's shapes (boxes only)."""
    if "</think>" in text:
        thought, summary = text.rsplit("</think>", 1)
        if truncated:  # only finished lines and closed boxes of a cut summary count
            summary = summary[: summary.rfind("\n") + 1] if "}" not in summary.rsplit("\n", 1)[-1] else summary
        found = ref_last_box(summary)
        if found is not None:
            return found
        box = thought.rfind("\\boxed{")
        return ref_last_box(thought) if box >= 0 and len(thought) - thought.find("}", box) <= CLOSING_CHARS else None
    if not truncated:
        return ref_last_box(text)
    m = re.search(r"\\boxed\{(\d+)\}[\s.$*]*$", text)
    return m.group(1) if m else None


THOUGHTS = [
    REASONING + "Let me verify once more.\n",  # no answer in the thought
    REASONING + FINAL_BOX,  # a final box closing the thought
    "Maybe \\boxed{17}? " + "No wait, recount the symmetric cases carefully. " * 6 + "\n",  # an early box only
    REASONING + "So \\boxed{204}. Wait, maybe also n = 0",  # a box followed by more reasoning
]
ENDINGS = [
    None,  # the thought never closed (cut inside it)
    "</think>",
    "</think>\n\nThe count is \\boxed{204}.",
    "</think>\n\nThe count is \\boxed{205}.",
    "</think>\n\nTo count the arrangements, we",
]


def grid():
    for opening, thought, ending, cut in itertools.product(["<think>\n", ""], THOUGHTS, ENDINGS, [False, True]):
        if ending is None and not cut:
            continue  # a finished response closes its thought (shapes without tags are the uncut tag-less rows)
        yield opening + thought + (ending or ""), cut


GRID = list(grid())


def test_the_grid_has_every_verdict():
    statuses = {verdict(t, truncated=c).status for t, c in GRID}
    assert statuses == {"correct", "wrong", "no_answer"}


@pytest.mark.parametrize("i", range(len(GRID)))
def test_each_policy_matches_its_reference(i):
    text, cut = GRID[i]
    assert verdict(text, truncated=cut, policy="last-box").extracted == ref_last_box(text)
    after = text.rsplit("</think>", 1)[-1]
    assert verdict(text, truncated=cut, policy="after-think") == verdict(after, truncated=False, policy="committed")
    strict = verdict(text, truncated=cut, policy="strict")
    assert strict == (grade(None, GOLD) if cut else verdict(text, truncated=False))
    assert verdict(text, truncated=cut).extracted == ref_committed(text, cut), text


def test_policies_are_named_and_checked():
    assert set(POLICIES) == {"committed", "after-think", "last-box", "strict"}
    assert GradeConfig().answer_policy == DEFAULT_POLICY == "committed"
    with pytest.raises(TaskError, match="unknown answer policy 'nope'; known: committed"):
        GradeConfig(answer_policy="nope")


# ---- the same verdicts reach the rewards ------------------------------------------------------------------


def test_rewards_learn_the_cut():
    from tasks import reward

    hedge = "<think>\n" + REASONING + "So perhaps \\boxed{204}. Wait, let me check"
    assert reward.score(hedge, GOLD, kind="integer") == 1.0
    assert reward.score(hedge, GOLD, kind="integer", truncated=True) == 0.0
    assert reward.score_batch([hedge, hedge], [GOLD, GOLD], truncated=[False, True]) == [1.0, 0.0]
    assert reward.compute_score("aime", hedge, GOLD, {"truncated": True}) == 0.0
    assert reward.compute_score("aime", hedge, GOLD, {}, truncated=True) == 0.0
    assert reward.compute_score("aime", hedge, GOLD, {}) == 1.0
    f = reward.make_trl_reward(max_completion_length=4, eos_token_ids=[0])
    ids = [[5, 6, 7, 8], [5, 6, 7, 0]]  # the first hit the limit; the second ended on its eos
    assert f(None, [hedge, hedge], answer=[GOLD, GOLD], completion_ids=ids) == [0.0, 1.0]
    assert f(None, [hedge, hedge], answer=[GOLD, GOLD], truncated=[False, True], completion_ids=ids) == [1.0, 0.0]
    with pytest.raises(TaskError, match="truncation flags"):
        reward.score_batch([hedge], [GOLD], truncated=[True, False])
