"""The statistics `harness study`'s report uses, which live in harness.metrics: the t interval over seeds
(`mean_ci`) and the paired bootstrap pooled over seeds with problems as the clusters (`pooled_paired_bootstrap`)."""

import math

import pytest

from harness import metrics


def _t_cdf(x: float, df: int) -> float:
    """Student's t CDF by Simpson's rule over its density (no scipy here)."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    n, h = 4000, x / 4000
    f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(n + 1)]
    return 0.5 + h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


def test_mean_ci_is_the_t_interval_over_seeds():
    for df, t in metrics.T975.items():  # the table is Student's t at 97.5 % (to its 3 decimals)
        assert _t_cdf(t, df) == pytest.approx(0.975, abs=1e-4), df
    values = [0.2, 0.5, 0.35]
    mean, half = metrics.mean_ci(values)
    sd = math.sqrt(sum((v - 0.35) ** 2 for v in values) / 2)
    assert mean == pytest.approx(0.35) and half == pytest.approx(4.303 * sd / math.sqrt(3))
    assert metrics.mean_ci([0.4]) == (0.4, None)  # one seed: no interval
    assert metrics.mean_ci([0.3, 0.3, 0.3])[1] == 0.0


def test_mean_ci_between_and_beyond_the_table():
    eleven = [i / 10 for i in range(12)]  # df 11 is not in the table: df 10's quantile, a slightly wider interval
    sd = math.sqrt(sum((v - 0.55) ** 2 for v in eleven) / 11)
    assert metrics.mean_ci(eleven)[1] == pytest.approx(metrics.T975[10] * sd / math.sqrt(12))
    many = [float(i % 2) for i in range(40)]  # df 39: the normal quantile
    assert metrics.mean_ci(many)[1] == pytest.approx(1.96 * math.sqrt(40 / 39 * 0.25) / math.sqrt(40))
    with pytest.raises(ValueError):
        metrics.mean_ci([])


def test_pooled_paired_bootstrap_is_the_paired_bootstrap_of_seed_means():
    a = [{"p1": 1.0, "p2": 0.5, "p3": 0.0, "extra": 1.0}, {"p1": 0.5, "p2": 0.5, "p3": 0.25}]
    b = [{"p1": 0.5, "p2": 0.0, "p3": 0.0}, {"p1": 0.5, "p2": 0.25, "p3": 0.5, "other": 0.0}]
    diff, lo, hi, problems = metrics.pooled_paired_bootstrap(a, b, iters=2000, seed=3)
    assert problems == 3  # only the problems every run of both sides has
    expected = metrics.paired_bootstrap([0.75, 0.5, 0.125], [0.5, 0.125, 0.25], iters=2000, seed=3)
    assert (diff, lo, hi) == expected
    assert diff == pytest.approx(((0.5 + 0.0) + (0.5 + 0.25) + (0.0 - 0.25)) / 2 / 3)  # mean over seeds of a - b
    assert metrics.pooled_paired_bootstrap([{"x": 1.0}], [{"y": 1.0}]) is None  # nothing shared
    with pytest.raises(ValueError):
        metrics.pooled_paired_bootstrap([], b)
