"""harness.metrics against hand-computed values and brute force over every subset."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest

from harness.metrics import (
    avg_at_n,
    bootstrap_ci,
    maj_at_k,
    paired_bootstrap,
    pass_at_k,
    pass_at_k_table,
    powers_of_two,
    verdict,
)


def brute_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """Fraction of all k-subsets of n samples (the first c correct) that contain a correct one."""
    subsets = list(combinations(range(n), k))
    return Fraction(sum(any(i < c for i in s) for s in subsets), len(subsets))


def brute_maj_at_k(answers, correct, k) -> Fraction:
    """Majority vote over every k-subset, written independently of the implementation."""
    first_seen = {}
    for i, a in enumerate(answers):
        if a:
            first_seen.setdefault(a, i)
    right = {a for a, ok in zip(answers, correct) if a and ok}
    wins = 0
    subsets = list(combinations(range(len(answers)), k))
    for s in subsets:
        votes = Counter(answers[i] for i in s if answers[i])
        if not votes:
            continue
        top = max(votes.values())
        winner = min((a for a, v in votes.items() if v == top), key=first_seen.__getitem__)
        wins += winner in right
    return Fraction(wins, len(subsets))


def test_pass_at_k_hand_values():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # 1 - C(2,2)/C(4,2) = 1 - 1/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    assert pass_at_k(5, 1, 5) == 1.0  # any 5 of 5 include the correct one


@pytest.mark.parametrize("n", range(1, 13))
def test_pass_at_k_equals_brute_force_exactly(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == float(brute_pass_at_k(n, c, k)), (n, c, k)


def test_pass_at_k_large_n_is_stable():
    # The product form above the exact threshold agrees with exact integers just above it.
    n, c, k = 1200, 37, 64
    exact = float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)
    # Huge n: finite, in [0, 1], and close to 1 - (1 - c/n)^k when k << n.
    value = pass_at_k(10**6, 1000, 8)
    assert 0 < value < 1
    assert value == pytest.approx(1 - (1 - 1e-3) ** 8, rel=1e-4)
    assert pass_at_k(10**6, 1, 1) == pytest.approx(1e-6, rel=1e-9)


def test_pass_at_k_rejects_bad_counts():
    for args in [(0, 0, 1), (5, 6, 1), (5, 2, 0), (5, 2, 6), (5, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*args)


def test_pass_at_k_table_and_powers_of_two():
    assert powers_of_two(1) == [1]
    assert powers_of_two(16) == [1, 2, 4, 8, 16]
    assert powers_of_two(20) == [1, 2, 4, 8, 16]
    table = pass_at_k_table([(4, 0), (4, 4), (4, 2)])
    assert list(table) == [1, 2, 4]
    assert table[1] == pytest.approx((0 + 1 + 0.5) / 3)
    assert table[2] == pytest.approx((0 + 1 + 5 / 6) / 3)


def test_maj_at_k_hand_values():
    # Unanimous right / wrong answers.
    assert maj_at_k(["5"] * 4, [True] * 4, 3) == 1.0
    assert maj_at_k(["4"] * 4, [False] * 4, 3) == 0.0
    # maj@1 is plain accuracy.
    assert maj_at_k(["5", "4", "5", None], [True, False, True, False], 1) == pytest.approx(0.5)
    # maj@n is the vote over all samples: "4" x2 beats "5" x1.
    assert maj_at_k(["4", "5", "4"], [False, True, False], 3) == 0.0
    # A tie at maj@n goes to the answer seen first.
    assert maj_at_k(["5", "4", "4", "5"], [True, False, False, True], 4) == 1.0
    assert maj_at_k(["4", "5", "5", "4"], [False, True, True, False], 4) == 0.0


def test_no_answer_never_wins_a_vote():
    # Three samples without an answer and one right answer: the right answer wins every subset it is in.
    answers, correct = [None, None, None, "7"], [False, False, False, True]
    assert maj_at_k(answers, correct, 4) == 1.0
    assert maj_at_k(answers, correct, 2) == pytest.approx(3 / 6)
    assert maj_at_k(["", None], [False, False], 2) == 0.0


def test_maj_at_k_equals_brute_force_on_small_cases():
    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(1, 10))
        pool = ["1", "2", "3", None]
        answers = [pool[int(rng.integers(0, 4))] for _ in range(n)]
        correct = [a == "1" for a in answers]
        for k in range(1, n + 1):
            assert maj_at_k(answers, correct, k) == pytest.approx(float(brute_maj_at_k(answers, correct, k)), abs=1e-12)


def test_maj_at_k_sampled_path_is_seeded_and_close_to_exact():
    rng = np.random.default_rng(3)
    answers = [["1", "2", "3", None][int(i)] for i in rng.integers(0, 4, size=20)]
    correct = [a == "1" for a in answers]
    exact = float(brute_maj_at_k(answers, correct, 10))  # C(20, 10) = 184756 subsets: the sampled path
    first = maj_at_k(answers, correct, 10, seed=1, draws=4000)
    assert first == maj_at_k(answers, correct, 10, seed=1, draws=4000)
    assert first == pytest.approx(exact, abs=0.03)


def test_maj_at_k_rejects_mismatched_inputs():
    with pytest.raises(ValueError):
        maj_at_k(["1", "2"], [True], 1)
    with pytest.raises(ValueError):
        maj_at_k(["1", "2"], [True, False], 3)


def test_avg_at_n_and_standard_error():
    mean, se = avg_at_n([1.0, 0.0, 0.5, 0.5])
    assert mean == pytest.approx(0.5)
    assert se == pytest.approx(np.std([1.0, 0.0, 0.5, 0.5], ddof=1) / 2)
    mean, se = avg_at_n([0.25])
    assert mean == 0.25 and math.isnan(se)


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    values = np.random.default_rng(0).random(30)
    mean, lo, hi = bootstrap_ci(values, iters=2000, seed=5)
    assert lo < mean < hi
    assert (mean, lo, hi) == bootstrap_ci(values, iters=2000, seed=5)
    # Roughly mean +- 1.96 SE for a mean of 30 values.
    se = values.std(ddof=1) / math.sqrt(30)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_paired_bootstrap_known_differences():
    b = np.random.default_rng(1).random(30)
    # A constant shift: every resample sees exactly that shift.
    diff, lo, hi = paired_bootstrap(b + 0.1, b, iters=500)
    assert diff == pytest.approx(0.1) and lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    # Identical sides: zero, with zero width.
    assert paired_bootstrap(b, b, iters=500) == (0.0, 0.0, 0.0)


def test_paired_bootstrap_is_reproducible_and_covers_the_truth():
    rng = np.random.default_rng(2)
    difficulty = rng.random(200)
    a = np.clip(difficulty + 0.05 + rng.normal(0, 0.05, 200), 0, 1)
    b = np.clip(difficulty + rng.normal(0, 0.05, 200), 0, 1)
    result = paired_bootstrap(a, b, iters=3000, seed=11)
    assert result == paired_bootstrap(a, b, iters=3000, seed=11)
    assert result != paired_bootstrap(a, b, iters=3000, seed=12)
    diff, lo, hi = result
    assert lo < diff < hi and 0 < lo and lo < 0.05 < hi
    # Pairing removes the spread of difficulty: far narrower than resampling each side on its own.
    _, alo, ahi = bootstrap_ci(a, iters=3000)
    assert hi - lo < (ahi - alo) / 3


def test_paired_bootstrap_rejects_unpaired_inputs():
    with pytest.raises(ValueError):
        paired_bootstrap([0.1, 0.2], [0.1])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])


def test_verdict_words():
    assert verdict(0.01, 0.2) == "A better"
    assert verdict(-0.2, -0.01, names=("x", "y")) == "y better"
    assert verdict(-0.1, 0.1) == "not distinguishable at this n"
