"""Scores for many samples per problem: avg@n, pass@k, maj@k, and bootstrap intervals over problems; over a few
runs (seeds), a t interval (`mean_ci`) and a paired bootstrap pooled over them (`pooled_paired_bootstrap`).

Pure functions over per-problem numbers (numpy only, no torch), so the leaderboard, `harness compare`
and outside tests all compute the same thing. Conventions:

- A benchmark's score is the mean over problems of each problem's score (with equal n per problem this
  equals the mean over all samples, the paper's avg@n).
- Uncertainty comes from the finite set of problems: standard errors and bootstrap intervals resample
  problems, not samples. Differences between two checkpoints (or two budgets) on the same problems use
  the *paired* bootstrap: one draw of problem indices is applied to both sides.
- Random draws take an explicit `seed`, so every number is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from itertools import combinations

import numpy as np

from harness import eval_defaults

# Up to this n, pass@k is computed with exact integers (correctly rounded to float); above it, the
# product form in log space, which never forms huge binomials.
_EXACT_PASS_N = 1000
# maj@k averages over every k-subset when there are at most this many, else over `draws` random ones.
_EXACT_MAJ_SUBSETS = 5000

# Every bootstrap interval of the harness: harness.eval_defaults.BOOTSTRAP_* (stated there, stdlib only, so
# `harness compare --help` shows them without numpy). Callers may take them from here too.
BOOTSTRAP_ITERS, BOOTSTRAP_SEED, BOOTSTRAP_LEVEL = (
    eval_defaults.BOOTSTRAP_ITERS,
    eval_defaults.BOOTSTRAP_SEED,
    eval_defaults.BOOTSTRAP_LEVEL,
)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with `n` samples of which `c` are correct.

    The probability that a uniformly random k-subset of the n samples holds at least one correct one:
    1 - C(n-c, k) / C(n, k) (Chen et al., 2021). Computed exactly for n <= 1000 and as
    1 - prod_{i=n-c+1..n} (1 - k/i) in log space above that, which stays accurate for any n.
    """
    _check_counts(n, c, k)
    if n - c < k:
        return 1.0
    if c == 0:
        return 0.0
    if n <= _EXACT_PASS_N:
        return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))
    log_miss = sum(math.log1p(-k / i) for i in range(n - c + 1, n + 1))
    return -math.expm1(log_miss)


def pass_at_k_table(counts: Sequence[tuple[int, int]], ks: Sequence[int] | None = None) -> dict[int, float]:
    """Benchmark pass@k for each k: the mean over problems of `pass_at_k(n, c, k)`.

    `counts` holds (n, c) per problem. `ks` defaults to the powers of two up to the smallest n.
    """
    if not counts:
        raise ValueError("pass@k needs at least one problem")
    ks = list(ks) if ks is not None else powers_of_two(min(n for n, _ in counts))
    return {k: float(np.mean([pass_at_k(n, c, k) for n, c in counts])) for k in ks}


def powers_of_two(n: int) -> list[int]:
    """1, 2, 4, ... up to n: the k values reported for pass@k and maj@k."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return [1 << i for i in range(n.bit_length()) if 1 << i <= n]


def maj_at_k(
    answers: Sequence[str | None],
    correct: Sequence[bool],
    k: int,
    *,
    seed: int = 0,
    draws: int = 2000,
) -> float:
    """maj@k for one problem: how often a majority vote over k of the samples picks a correct answer.

    `answers` are the checker's canonical answers (never raw response text) and `correct` the checker's
    verdicts, both in sample order. The vote is averaged over k-subsets of the n samples: all of them
    when there are at most 5000, else `draws` uniform random subsets drawn with `seed`.

    Rules, chosen so that a vote can never be won by the absence of an answer:
    - a sample whose answer is None (or "") does not vote; a subset with no answer at all scores 0;
    - ties between answers go to the answer that first occurs earliest in sample order over all n
      samples (deterministic, and independent of which answer is right);
    - an answer counts as correct if the checker accepted any sample that gave it (samples with the same
      canonical answer normally share one verdict; a grading timeout on one of them does not sink the rest).
    """
    n = len(answers)
    if len(correct) != n:
        raise ValueError(f"answers and correct differ in length ({n} vs {len(correct)})")
    _check_counts(n, 0, k)
    codes, code_correct = _answer_codes(answers, correct)
    if not code_correct.any():
        return 0.0
    if math.comb(n, k) <= _EXACT_MAJ_SUBSETS:
        subsets = np.array(list(combinations(range(n), k)), dtype=np.int64).reshape(-1, k)
    else:
        if draws < 1:
            raise ValueError(f"draws must be at least 1, got {draws}")
        rng = np.random.default_rng(seed)
        subsets = np.argsort(rng.random((draws, n)), axis=1)[:, :k]
    return float(np.mean(_vote_is_correct(codes[subsets], code_correct)))


def _answer_codes(answers: Sequence[str | None], correct: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct answers in order of first occurrence (-1 for no answer); mark correct ones."""
    index: dict[str, int] = {}
    codes = np.empty(len(answers), dtype=np.int64)
    for i, answer in enumerate(answers):
        codes[i] = -1 if answer is None or answer == "" else index.setdefault(answer, len(index))
    code_correct = np.zeros(len(index), dtype=bool)
    for code, ok in zip(codes, correct):
        if code >= 0 and ok:
            code_correct[code] = True
    return codes, code_correct


def _vote_is_correct(votes: np.ndarray, code_correct: np.ndarray) -> np.ndarray:
    """For each row of answer codes, whether its majority answer is correct (ties: lowest code)."""
    rows, m = votes.shape[0], len(code_correct)
    flat = (np.arange(rows)[:, None] * m + votes)[votes >= 0]
    tally = np.bincount(flat, minlength=rows * m).reshape(rows, m)
    winner = tally.argmax(axis=1)  # argmax takes the first maximum: the earliest-seen answer
    has_vote = tally.max(axis=1) > 0
    return has_vote & code_correct[winner]


def avg_at_n(per_problem: Sequence[float]) -> tuple[float, float]:
    """avg@n and its standard error across problems, from each problem's accuracy (c / n).

    SE = sample standard deviation of the per-problem accuracies / sqrt(#problems); NaN for one problem.
    """
    values = _as_vector(per_problem, "per-problem accuracies")
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")
    return float(values.mean()), se


def bootstrap_ci(
    values: Sequence[float],
    *,
    iters: int = BOOTSTRAP_ITERS,
    seed: int = BOOTSTRAP_SEED,
    level: float = BOOTSTRAP_LEVEL,
) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean of per-problem values and a percentile bootstrap interval over problems."""
    x = _as_vector(values, "values")
    lo, hi = _percentile_interval(_resampled_means(x, iters, seed), level)
    return float(x.mean()), lo, hi


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    iters: int = BOOTSTRAP_ITERS,
    seed: int = BOOTSTRAP_SEED,
    level: float = BOOTSTRAP_LEVEL,
) -> tuple[float, float, float]:
    """(mean_diff, lo, hi) for mean(a) - mean(b), where a[i] and b[i] score the same problem i.

    Each bootstrap draw resamples problem indices once and applies them to both sides, so the spread of
    problem difficulty cancels and only the disagreement between a and b remains in the interval.
    """
    x = _as_vector(a, "a")
    y = _as_vector(b, "b")
    if len(x) != len(y):
        raise ValueError(f"paired bootstrap needs the same problems on both sides ({len(x)} vs {len(y)})")
    diff = x - y
    lo, hi = _percentile_interval(_resampled_means(diff, iters, seed), level)
    return float(diff.mean()), lo, hi


def verdict(lo: float, hi: float, *, names: tuple[str, str] = ("A", "B")) -> str:
    """Plain words for a difference interval (A - B): which side is better, or neither at this n."""
    if lo > 0:
        return f"{names[0]} better"
    if hi < 0:
        return f"{names[1]} better"
    return "not distinguishable at this n"


def pooled_paired_bootstrap(
    a: Sequence[Mapping[str, float]],
    b: Sequence[Mapping[str, float]],
    *,
    iters: int = BOOTSTRAP_ITERS,
    seed: int = BOOTSTRAP_SEED,
    level: float = BOOTSTRAP_LEVEL,
) -> tuple[float, float, float, int] | None:
    """(mean_diff, lo, hi, problems) for side a minus side b, each side several runs (seeds) on the same problems.

    a[i] and b[i] map problem id -> that run's score on it. Per problem, the mean over each side's runs, over the
    problems every run of both sides has; then `paired_bootstrap` with problems as the clusters (so the mean over
    runs of a[i] - b[i] per problem, when both sides have as many runs). None when no problem is shared.
    """
    if not a or not b:
        raise ValueError("pooled paired bootstrap needs at least one run on each side")
    problems = sorted(set.intersection(*[set(x) for x in [*a, *b]]))
    if not problems:
        return None
    pa = [sum(x[p] for x in a) / len(a) for p in problems]
    pb = [sum(x[p] for x in b) / len(b) for p in problems]
    diff, lo, hi = paired_bootstrap(pa, pb, iters=iters, seed=seed, level=level)
    return diff, lo, hi, len(problems)


# Student t, 97.5 % quantile by degrees of freedom (a df between two rows takes the smaller one's: wider)
T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    30: 2.042,
}


def mean_ci(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its 95 % t interval (a few runs, e.g. seeds, as the units); None for one value.

    Above 30 degrees of freedom the normal quantile 1.96."""
    k = len(values)
    if k == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = sum(values) / k
    if k < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    t = T975[max(d for d in T975 if d <= k - 1)] if k - 1 <= 30 else 1.96
    return mean, t * sd / math.sqrt(k)


def _resampled_means(x: np.ndarray, iters: int, seed: int) -> np.ndarray:
    """Means of `iters` bootstrap resamples of x, drawn in blocks to bound memory."""
    if iters < 1:
        raise ValueError(f"iters must be at least 1, got {iters}")
    rng = np.random.default_rng(seed)
    p = len(x)
    block = max(1, 2_000_000 // p)
    means = np.empty(iters)
    for start in range(0, iters, block):
        stop = min(iters, start + block)
        means[start:stop] = x[rng.integers(0, p, size=(stop - start, p))].mean(axis=1)
    return means


def _percentile_interval(means: np.ndarray, level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def _as_vector(values: Sequence[float], what: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"{what} must be a non-empty 1-D sequence")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or infinity")
    return x


def _check_counts(n: int, c: int, k: int) -> None:
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"need n >= 1 and 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..n (n={n}), got {k}")
