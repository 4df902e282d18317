"""Rewards for RL, from exactly the checker that `harness eval` scores with (no train/eval mismatch).

One function per calling convention: `score` (plain), `compute_score` (verl's custom reward function),
`trl_reward` / `make_trl_reward` (TRL's reward functions), `score_batch` (a killable worker pool, for
thousands of long rollouts). Reward values come from a mode: "binary" is 1/0; "pm1" is the paper's
+1 correct / -1 otherwise (DAPO, Wang et al. 2025). DAPO's overlong shaping is a separate term.

Every function grades under an answer policy (tasks/policy.py, default "committed") and learns whether the
response was cut by the length budget (`truncated`): a rollout cut mid-thought has not committed to the
answer it wrote in passing, exactly as `harness eval` scores a cut sample.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.errors import TaskError
from tasks.grading import Grade, check_timeout, config_for, grade, grade_batch
from tasks.policy import DEFAULT_POLICY

MODES: dict[str, tuple[float, float]] = {"binary": (1.0, 0.0), "pm1": (1.0, -1.0)}


def _values(mode: str) -> tuple[float, float]:
    try:
        return MODES[mode]
    except KeyError:
        raise TaskError(f"unknown reward mode {mode!r}; known: {', '.join(MODES)}") from None


def reward_of(g: Grade, mode: str = "binary") -> float:
    right, wrong = _values(mode)
    return right if g.correct else wrong


def score(
    response,
    gold,
    *,
    mode: str = "binary",
    timeout: float = 1.0,
    kind: str = "free",
    truncated: bool = False,
    answer_policy: str = DEFAULT_POLICY,
) -> float:
    """Reward of one response, graded by the rules of the answer `kind` (tasks.grading.config_for) under
    `answer_policy`; `truncated`: the length budget cut it. Never raises on the response (timeouts and junk
    are simply wrong)."""
    _values(mode)  # a bad mode fails before any grading work
    config = config_for(kind, answer_policy)
    return reward_of(grade(response, _gold(gold), timeout=timeout, config=config, truncated=truncated), mode)


def score_batch(
    responses: Sequence,
    golds: Sequence,
    *,
    mode: str = "binary",
    timeout: float = 1.0,
    workers: int | None = None,
    kind: str = "free",
    truncated: Sequence[bool] | None = None,
    answer_policy: str = DEFAULT_POLICY,
) -> list[float]:
    """Rewards of many responses, graded in parallel; each one bounded by `timeout` seconds, by the rules of the
    answer `kind` (tasks.grading.config_for: an integer task wants an integer) under `answer_policy`.
    `truncated`: per response, whether the length budget cut it (default: none was cut)."""
    _values(mode)
    if len(responses) != len(golds):
        raise TaskError(f"score_batch: {len(responses)} responses but {len(golds)} gold answers")
    if truncated is not None and len(truncated) != len(responses):
        raise TaskError(f"score_batch: {len(responses)} responses but {len(truncated)} truncation flags")
    golds = [_gold(g) for g in golds]
    config = config_for(kind, answer_policy)
    grades = grade_batch(list(responses), golds, timeout=timeout, workers=workers, config=config, truncated=truncated)
    return [reward_of(g, mode) for g in grades]


def overlong_penalty(length: int, max_length: int, buffer: int) -> float:
    """DAPO's soft overlong punishment: 0 up to max_length - buffer, then linear down to -1 at max_length.

    DAPO (Yu et al. 2025) and the 80/20 paper use max_length 20480 and buffer 4096.
    """
    if buffer <= 0 or buffer > max_length:
        raise ValueError(f"overlong buffer must be in 1..max_length, got {buffer}")
    free = max_length - buffer
    if length <= free:
        return 0.0
    if length <= max_length:
        return (free - length) / buffer
    return -1.0


def compute_score(
    data_source,
    solution_str,
    ground_truth,
    extra_info=None,
    *,
    mode: str = "binary",
    timeout: float = 1.0,
    kind: str = "free",
    truncated: bool | None = None,
    answer_policy: str = DEFAULT_POLICY,
) -> float:
    """verl's custom reward function. Select it (verl 0.9) with `reward.custom_reward_function.path=<tasks/reward.py>`
    and `reward.custom_reward_function.name=compute_score`; `mode` and `timeout` arrive through
    `+reward.custom_reward_function.reward_kwargs.mode=pm1` (pm1 for the paper's recipe), `kind` the same way
    (`...reward_kwargs.kind=integer` for AIME-style data: the answer must state an integer). verl loads the file
    by path, so this package must be installed wherever verl's reward workers run.

    `truncated`: the response was cut by the length budget. verl's own reward managers (0.9) do not say so;
    a reward manager or data pipeline that does passes `truncated=` or sets `extra_info["truncated"]`; with
    neither, the response is graded as one that ended by itself.
    """
    if truncated is None:
        truncated = bool((extra_info or {}).get("truncated", False)) if isinstance(extra_info, dict) else False
    return score(
        solution_str,
        ground_truth,
        mode=mode,
        timeout=timeout,
        kind=kind,
        truncated=truncated,
        answer_policy=answer_policy,
    )


def make_trl_reward(
    *,
    mode: str = "binary",
    timeout: float = 1.0,
    answer_column: str | None = None,
    overlong: tuple[int, int] | None = None,
    kind: str = "free",
    max_completion_length: int | None = None,
    eos_token_ids: Sequence[int] | None = None,
    answer_policy: str = DEFAULT_POLICY,
):
    """A TRL reward function `f(prompts, completions, **columns) -> list[float]`.

    Truncation: a `truncated` column, when the data or a wrapper provides one, says which completions the
    length budget cut. Else, with `max_completion_length` (GRPOConfig's), a completion whose
    `completion_ids` reach that length without ending in one of `eos_token_ids` was cut (TRL keeps the eos in
    `completion_ids`; without `eos_token_ids` every completion of full length counts as cut). With neither,
    every completion is graded as one that ended by itself.

    `kind`: the answer kind of the task (tasks.registry.KINDS); "integer" grades by `tasks.grading.INTEGER`
    (an answer must state an integer), as `harness eval` and our trainer do for AIME and synthetic.

    The gold answer comes from the dataset column `answer_column`, else the first present of `answer`,
    `solution`, `ground_truth`, or verl-style `reward_model["ground_truth"]`. Completions may be plain
    strings or conversations (lists of {"role", "content"}); the last message is graded. With
    `overlong=(max_length, buffer)` DAPO's length penalty is added, using TRL's `completion_ids`.
    """
    _values(mode)

    def reward(prompts, completions, **columns) -> list[float]:
        texts = [_completion_text(c) for c in completions]
        golds = _gold_column(columns, len(texts), answer_column)
        cut = _truncated(columns, len(texts), max_completion_length, eos_token_ids)
        rewards = score_batch(
            texts, golds, mode=mode, timeout=timeout, kind=kind, truncated=cut, answer_policy=answer_policy
        )
        if overlong is not None:
            ids = columns.get("completion_ids")
            if ids is None:
                raise TaskError("overlong shaping needs TRL's completion_ids column")
            rewards = [r + overlong_penalty(len(i), *overlong) for r, i in zip(rewards, ids)]
        return rewards

    check_timeout(timeout)
    reward.__name__ = f"rlvr_{mode}_reward"  # TRL logs each reward function under its name
    return reward


trl_reward = make_trl_reward()


def _truncated(columns: dict, n: int, max_length: int | None, eos: Sequence[int] | None) -> list[bool] | None:
    """Which completions the length budget cut (see make_trl_reward), or None when nothing says."""
    if columns.get("truncated") is not None:
        flags = [bool(t) for t in columns["truncated"]]
        if len(flags) != n:
            raise TaskError(f"reward: column 'truncated' has {len(flags)} values for {n} completions")
        return flags
    if max_length is None:
        return None
    ids = columns.get("completion_ids")
    if ids is None:
        raise TaskError("reward: max_completion_length needs TRL's completion_ids column")
    ends = set(eos or ())
    return [len(i) >= max_length and not (len(i) and i[-1] in ends) for i in ids]


def _completion_text(completion) -> object:
    if isinstance(completion, list):  # conversational: [{"role": "assistant", "content": ...}, ...]
        if not completion:
            return ""
        last = completion[-1]
        return last.get("content", "") if isinstance(last, dict) else last
    return completion


def _gold_column(columns: dict, n: int, name: str | None) -> list:
    names = [name] if name else ["answer", "solution", "ground_truth", "reward_model"]
    for key in names:
        if key in columns and columns[key] is not None:
            values = list(columns[key])
            if key == "reward_model":
                values = [v.get("ground_truth") if isinstance(v, dict) else None for v in values]
            if len(values) != n:
                raise TaskError(f"reward: column {key!r} has {len(values)} values for {n} completions")
            return values
    raise TaskError(
        f"reward: no gold answer column; looked for {', '.join(names)} among {', '.join(columns) or 'none'}"
    )


def _gold(gold) -> str:
    if gold is None or (isinstance(gold, str) and not gold.strip()):
        raise TaskError("reward: missing gold answer")
    return str(gold)
