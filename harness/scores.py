"""From one run's sample rows to its scores per (task, budget): the numbers a leaderboard row holds.

The sample store has one flat row per (sample, budget). This module groups those rows by run, task and
budget, gathers each problem's samples, and applies `harness.metrics`. It reads only the column names
the store promises (`run_id`, `task`, `problem_id`, `sample_idx`, `budget`, `response_tokens`,
`truncated`, `extracted`, `correct`) plus two optional ones: `canonical` (the checker's normalised
answer, which majority votes use, falling back to `extracted` on rows where it is null), `think_closed` and
`repetition_loop` (rates over the rows where they are not null; null where no row has them), and
`answer_policy` (rows are scored per policy; a null or absent policy is the legacy `after-think`, as the store
reads it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from harness import metrics
from harness.store import policy_of

REQUIRED_COLUMNS = (
    "run_id",
    "task",
    "problem_id",
    "sample_idx",
    "budget",
    "response_tokens",
    "truncated",
    "extracted",
    "correct",
)


@dataclass
class ProblemSamples:
    """One problem's samples at one budget, in sample order."""

    answers: list[str | None] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / len(self.correct)


@dataclass
class Score:
    """Everything the leaderboard records about one (run, task, budget)."""

    run_id: str
    task: str
    budget: int
    answer_policy: str
    n: int
    problems: int
    avg: float
    se: float
    ci_lo: float
    ci_hi: float
    pass_at_k: dict[int, float]
    maj_at_k: dict[int, float]
    truncation_rate: float
    acc_untruncated: float | None
    mean_tokens: float
    median_tokens: float
    think_closed_rate: float | None
    mean_think_tokens: float | None  # tokens inside the thought, per sample (null where not recorded)
    mean_answer_tokens: float | None  # tokens after it
    forced_avg: float | None  # avg@n with the samples cut before they answered forced to answer (null: not forced)
    repetition_rate: float | None
    problem_ids: list[str]
    problem_n: list[int]
    problem_correct: list[int]


def score_samples(samples: Any) -> list[Score]:
    """Scores for every (run, task, budget, answer policy) in a samples table (a pyarrow Table or a column dict).

    Sorted by run, task, budget and policy. Raises ValueError on a table the store should never produce: missing
    columns, nulls in required columns, or the same (problem, sample) twice at one budget.
    """
    columns = _columns(samples)
    # A sample votes with the checker's canonical answer; where the checker gave none (a normalisation
    # timeout, an older store) with its extracted answer; with neither it does not vote.
    canonical = columns.get("canonical") or [None] * len(columns["extracted"])
    votes = [c if c is not None else e for c, e in zip(canonical, columns["extracted"])]
    think = columns.get("think_closed")
    loops = columns.get("repetition_loop")
    policies = [policy_of(p) for p in columns.get("answer_policy") or [None] * len(columns["run_id"])]

    groups: dict[tuple[str, str, int, str], list[int]] = {}
    for i, key in enumerate(zip(columns["run_id"], columns["task"], columns["budget"], policies)):
        groups.setdefault((str(key[0]), str(key[1]), int(key[2]), key[3]), []).append(i)

    forced = columns.get("forced_correct")
    scores = []
    for (run_id, task, budget, policy), rows in sorted(groups.items()):
        per_problem: dict[str, ProblemSamples] = {}
        seen: set[tuple[str, int]] = set()
        for i in sorted(rows, key=lambda i: (str(columns["problem_id"][i]), int(columns["sample_idx"][i]))):
            pid, idx = str(columns["problem_id"][i]), int(columns["sample_idx"][i])
            if (pid, idx) in seen:
                raise ValueError(
                    f"sample {idx} of problem {pid} appears twice in run {run_id} at budget {budget} ({policy})"
                )
            seen.add((pid, idx))
            problem = per_problem.setdefault(pid, ProblemSamples())
            problem.answers.append(votes[i])
            problem.correct.append(bool(columns["correct"][i]))
        score = _score_group(run_id, task, budget, policy, per_problem, rows, columns, think, loops)
        if forced is not None:
            score.forced_avg = _forced_avg(rows, columns["problem_id"], forced)
        scores.append(score)
    return scores


def _score_group(run_id, task, budget, policy, per_problem, rows, columns, think, loops) -> Score:
    ids = sorted(per_problem)
    problems = [per_problem[pid] for pid in ids]
    accuracies = [p.accuracy for p in problems]
    avg, se = metrics.avg_at_n(accuracies)
    _, ci_lo, ci_hi = metrics.bootstrap_ci(accuracies)  # metrics.BOOTSTRAP_*: the harness's one setting
    n = min(len(p.correct) for p in problems)
    ks = metrics.powers_of_two(n)
    pass_k = metrics.pass_at_k_table([(len(p.correct), sum(p.correct)) for p in problems], ks)
    maj_k = {k: _mean(metrics.maj_at_k(p.answers, p.correct, k) for p in problems) for k in ks}

    truncated = [bool(columns["truncated"][i]) for i in rows]
    untruncated = [bool(columns["correct"][i]) for i, t in zip(rows, truncated) if not t]
    tokens = [int(columns["response_tokens"][i]) for i in rows]
    closed = _present(think, rows)
    looped = _present(loops, rows)
    thought = [
        columns["think_tokens"][i]
        for i in rows
        if columns.get("think_tokens") and columns["think_tokens"][i] is not None
    ]
    answered = [
        columns["answer_tokens"][i]
        for i in rows
        if columns.get("answer_tokens") and columns["answer_tokens"][i] is not None
    ]
    return Score(
        run_id=run_id,
        task=task,
        budget=budget,
        answer_policy=policy,
        n=n,
        problems=len(problems),
        avg=avg,
        se=se,
        ci_lo=ci_lo,
        ci_hi=ci_hi,
        pass_at_k=pass_k,
        maj_at_k=maj_k,
        truncation_rate=_mean(truncated),
        acc_untruncated=_mean(untruncated) if untruncated else None,
        mean_tokens=_mean(tokens),
        median_tokens=float(median(tokens)),
        think_closed_rate=_mean(closed) if closed else None,
        mean_think_tokens=_mean(thought) if thought else None,
        mean_answer_tokens=_mean(answered) if answered else None,
        forced_avg=None,
        repetition_rate=_mean(looped) if looped else None,
        problem_ids=ids,
        problem_n=[len(p.correct) for p in problems],
        problem_correct=[sum(p.correct) for p in problems],
    )


def _forced_avg(rows: list[int], problem_ids: list, forced: list) -> float:
    """avg@n of the forced verdicts (harness.store.with_forced: the natural one where nothing was forced)."""
    per: dict[str, list[bool]] = {}
    for i in rows:
        per.setdefault(str(problem_ids[i]), []).append(bool(forced[i]))
    return _mean(_mean(v) for v in per.values())


def _present(column: list | None, rows: list[int]) -> list[bool]:
    """The non-null values of an optional bool column at these rows."""
    if column is None:
        return []
    return [bool(column[i]) for i in rows if column[i] is not None]


def _columns(samples: Any) -> dict[str, list]:
    data = samples.to_pydict() if hasattr(samples, "to_pydict") else dict(samples)
    missing = [c for c in REQUIRED_COLUMNS if c not in data]
    if missing:
        raise ValueError(f"samples table lacks column(s) {', '.join(missing)}")
    if not data["run_id"]:
        raise ValueError("samples table is empty")
    for name in REQUIRED_COLUMNS:
        if name != "extracted" and any(v is None for v in data[name]):
            raise ValueError(f"samples table has nulls in column {name!r}")
    return data


def _mean(values) -> float:
    values = list(values)
    return math.fsum(values) / len(values)
