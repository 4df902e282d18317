"""tasks.reward: one checker behind every trainer's calling convention."""

import inspect

import pytest

from tasks import TaskError, reward

RIGHT = "Let me think... so the total is 204 minutes.\n\\boxed{204}"
WRONG = "I get \\boxed{240}"


def test_score_modes():
    assert reward.score(RIGHT, "204") == 1.0
    assert reward.score(WRONG, "204") == 0.0
    assert reward.score(WRONG, "204", mode="pm1") == -1.0
    assert reward.score("no answer here at all", 204, mode="pm1") == -1.0
    with pytest.raises(TaskError, match="unknown reward mode"):
        reward.score(RIGHT, "204", mode="sparse")
    with pytest.raises(TaskError, match="missing gold"):
        reward.score(RIGHT, None)


def test_verl_signature_and_kwargs():
    params = list(inspect.signature(reward.compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert reward.compute_score("aime24", RIGHT, "204") == 1.0
    assert reward.compute_score("aime24", WRONG, "204", {"index": 3}, mode="pm1") == -1.0


def test_trl_reward_plain_and_conversational():
    prompts = ["q1", "q2", "q3"]
    plain = [RIGHT, WRONG, "Answer: 17"]
    assert reward.trl_reward(prompts, plain, answer=["204", "204", "017"]) == [1.0, 0.0, 1.0]
    chat = [[{"role": "assistant", "content": c}] for c in plain]
    assert reward.trl_reward(prompts, chat, answer=["204", "204", "17"]) == [1.0, 0.0, 1.0]
    verl_style = [{"ground_truth": "204", "style": "rule"}] * 3
    assert reward.trl_reward(prompts, plain, reward_model=verl_style) == [1.0, 0.0, 0.0]
    assert reward.trl_reward.__name__ == "rlvr_binary_reward"
    with pytest.raises(TaskError, match="no gold answer column"):
        reward.trl_reward(prompts, plain, question=["a", "b", "c"])
    with pytest.raises(TaskError, match="has 2 values for 3 completions"):
        reward.trl_reward(prompts, plain, answer=["1", "2"])


def test_trl_reward_with_overlong_shaping():
    f = reward.make_trl_reward(mode="pm1", overlong=(100, 20))
    out = f(["q", "q"], [RIGHT, RIGHT], answer=["204", "204"], completion_ids=[[0] * 50, [0] * 90])
    assert out == [1.0, pytest.approx(1.0 - 0.5)]


def test_overlong_penalty_matches_dapo():
    L, buf = 20480, 4096
    assert reward.overlong_penalty(L - buf, L, buf) == 0.0
    assert reward.overlong_penalty(L - buf + 2048, L, buf) == pytest.approx(-0.5)
    assert reward.overlong_penalty(L, L, buf) == pytest.approx(-1.0)
    assert reward.overlong_penalty(L + 1, L, buf) == -1.0
    with pytest.raises(ValueError):
        reward.overlong_penalty(10, 100, 0)


def test_score_batch_is_the_same_checker():
    responses = [RIGHT, WRONG, "\\boxed{033}", None, "x" * 200_000 + "\\boxed{7}"]
    golds = ["204", "204", "33", "1", "7"]
    assert reward.score_batch(responses, golds, mode="pm1") == [1.0, -1.0, 1.0, -1.0, 1.0]
    assert reward.score_batch(responses, golds) == [reward.score(r, g) for r, g in zip(responses, golds)]
    with pytest.raises(TaskError, match="2 responses but 1 gold"):
        reward.score_batch(["a", "b"], ["1"])


def test_score_batch_grades_by_the_task_kind():
    responses, golds = ["Answer: 2 * 7", "Answer: 14"], ["14", "14"]
    assert reward.score_batch(responses, golds, mode="binary") == [1.0, 1.0]
    assert reward.score_batch(responses, golds, mode="binary", kind="integer") == [0.0, 1.0]


def test_trl_reward_takes_the_task_kind():
    free, integer = reward.make_trl_reward(), reward.make_trl_reward(kind="integer")
    prompts, completions = ["Compute 2 * 7."] * 2, ["Answer: 2 * 7", "Answer: 14"]
    assert free(prompts, completions, answer=["14", "14"]) == [1.0, 1.0]
    assert integer(prompts, completions, answer=["14", "14"]) == [0.0, 1.0]


def test_verl_compute_score_takes_the_task_kind():
    assert reward.compute_score("synthetic", "Answer: 2 * 7", "14") == 1.0
    assert reward.compute_score("synthetic", "Answer: 2 * 7", "14", kind="integer") == 0.0
    assert reward.score("Answer: 14", "14", kind="integer") == 1.0
