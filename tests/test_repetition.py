"""Repetition loops (`harness.repetition`) on constructed chains, against a brute-force reading of the definition;
the rate on the leaderboard; cost per solved sample; old leaderboard files read with nulls in the new columns."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from harness import leaderboard
from harness.repetition import MAX_PERIOD, MIN_REPEATS, MIN_TAIL, ends_in_loop, find_loop
from harness.scores import score_samples
from tests.synthetic_runs import make_samples, manifest

PREFIX = list(range(1000, 1100))  # ids that occur nowhere else: the loop cannot reach back into them


def brute_force(ids, max_period=MAX_PERIOD, min_repeats=MIN_REPEATS, min_tail=MIN_TAIL) -> bool:
    """The definition read literally: some p and some tail length L with every tail token equal to the one p back."""
    n = len(ids)
    for p in range(1, max_period + 1):
        for length in range(max(min_repeats * p, min_tail), n + 1):
            tail = ids[n - length :]
            if all(tail[i] == tail[i - p] for i in range(p, length)):
                return True
    return False


def test_true_loop_found_with_its_period_and_start():
    block = [5, 6, 7]
    ids = PREFIX + block * 70
    loop = find_loop(ids)
    assert loop is not None and loop.period == 3 and loop.start == len(PREFIX)
    assert loop.tail(len(ids)) == 210


def test_loop_cut_inside_a_copy_and_single_token_loop():
    ids = PREFIX + [5, 6, 7, 8, 9] * 40
    for cut in range(len(PREFIX) + 64, len(ids)):  # a budget cuts the loop anywhere
        assert find_loop(ids[:cut]).period == 5
    assert find_loop(PREFIX + [42] * 64) == find_loop(PREFIX + [42] * 64)
    assert find_loop(PREFIX + [42] * 64).period == 1
    assert find_loop([1, 2, 1, 2] * 40).start == 0  # the whole response


def test_smallest_period_is_reported():
    assert find_loop(PREFIX + [1, 2] * 100).period == 2  # also periodic with 4, 6, ...


def test_near_loops_do_not_count():
    counter = PREFIX + [t for k in range(60) for t in (7, 8, 2000 + k)]  # "x + 1, x + 2, x + 3, ..."
    assert not ends_in_loop(counter)
    one_changed = PREFIX + [3000 + k if j == k % 4 else t for k in range(60) for j, t in enumerate([5, 6, 7, 8])]
    assert not ends_in_loop(one_changed)  # one token differs in each copy
    assert not ends_in_loop(PREFIX + [5, 6, 7] * 70 + list(range(2000, 2080)))  # a loop, then the text moves on
    assert not ends_in_loop(PREFIX + [5, 6, 7] * 70 + [9])  # one different token at the very end breaks it


def test_tail_must_be_long_and_repeated():
    assert not ends_in_loop(PREFIX + list(range(10)) * 6)  # 60 tokens < MIN_TAIL
    assert ends_in_loop(PREFIX + list(range(10)) * 7)  # 70 tokens, 7 copies
    block = list(range(30))
    assert not ends_in_loop(PREFIX + block * 3)  # 90 tokens but only 3 copies
    assert ends_in_loop(PREFIX + block * 4)
    assert not ends_in_loop(PREFIX + [9, 9, 9, 9])  # "}}}}": short
    assert not ends_in_loop([]) and ends_in_loop(None) is None


def test_period_limit():
    block = list(range(5000, 5000 + MAX_PERIOD + 10))
    assert not ends_in_loop(PREFIX + block * 5)
    assert find_loop(PREFIX + block * 5, max_period=MAX_PERIOD + 10).period == MAX_PERIOD + 10


def test_agrees_with_brute_force_on_random_chains():
    rng = np.random.default_rng(0)
    small = {"max_period": 6, "min_repeats": 3, "min_tail": 8}
    agree = found = 0
    for _ in range(1500):
        alphabet = int(rng.integers(1, 4))
        n = int(rng.integers(0, 20))
        if rng.random() < 0.4:  # plant a loop tail, sometimes broken near the end
            block = list(rng.integers(0, alphabet, int(rng.integers(1, 7))))
            ids = list(rng.integers(0, alphabet, n)) + block * int(rng.integers(1, 8))
            if rng.random() < 0.3 and ids:
                ids[-int(rng.integers(1, len(ids) + 1))] = 99
        else:
            ids = list(rng.integers(0, alphabet, n))
        ids = [int(i) for i in ids]
        want = brute_force(ids, **small)
        assert ends_in_loop(ids, **small) == want, ids
        loop = find_loop(ids, **small)
        if loop is not None:  # the reported tail really is periodic, and one more token back is not
            tail = ids[loop.start :]
            assert all(tail[i] == tail[i - loop.period] for i in range(loop.period, len(tail)))
            assert loop.start == 0 or ids[loop.start - 1] != ids[loop.start - 1 + loop.period]
        agree += 1
        found += want
    assert agree == 1500 and 150 < found < 1350  # both outcomes well represented


def test_repetition_rate_on_the_leaderboard(tmp_path):
    table = make_samples("r1", "ckpt", tasks=("aime24",), budgets=(100, 200), n=4, problems=5)
    loops = [bool((i // 2) % 3 == 0) for i in range(table.num_rows)]
    table = table.append_column("repetition_loop", pa.array(loops))
    rows = leaderboard.rows_for_run(table, manifest("r1", "ckpt", budgets=(100, 200)))
    budgets = table["budget"].to_pylist()
    for r in rows:
        want = [x for x, b in zip(loops, budgets) if b == r["budget"]]
        assert math.isclose(r["repetition_rate"], sum(want) / len(want))
    without = score_samples(make_samples("r1", "ckpt", tasks=("aime24",), budgets=(100,)))
    assert without[0].repetition_rate is None  # a store from before the column


def test_cost_per_solved_sample():
    table = make_samples("r1", "ckpt", tasks=("aime24",), budgets=(30000,), n=4, problems=6, skill=0.7)
    solved = sum(table["correct"].to_pylist())
    assert solved > 0
    for backend, config, devices in [
        ("hf", {}, 1),
        ("vllm", {"tensor_parallel_size": 2, "data_parallel_size": 3}, 6),
        ("openai", {}, None),
    ]:
        m = {**manifest("r1", "ckpt", budgets=(30000,)), "backend": backend, "config": config, "wall_time_s": 120.0}
        (row,) = leaderboard.rows_for_run(table, m)
        assert math.isclose(row["seconds_per_solved"], 120.0 / solved)
        if devices is None:
            assert row["device_seconds_per_solved"] is None
        else:
            assert math.isclose(row["device_seconds_per_solved"], 120.0 * devices / solved)
    none_right = make_samples("r2", "ckpt", tasks=("aime24",), budgets=(100,), skill=0.0)
    (row,) = leaderboard.rows_for_run(none_right, manifest("r2", "ckpt", budgets=(100,)))
    assert row["seconds_per_solved"] is None and row["device_seconds_per_solved"] is None


def test_old_leaderboard_reads_new_columns_as_null():
    old = leaderboard.read(Path(__file__).parent / "fixtures" / "leaderboard_v0.parquet").to_pylist()
    assert old and all(
        r[c] is None for r in old for c in ("repetition_rate", "seconds_per_solved", "device_seconds_per_solved")
    )


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65])
def test_all_equal_tokens_threshold(n):
    assert ends_in_loop([3] * n) == (n >= MIN_TAIL)


def test_combinations_of_two_blocks():
    # Two different loops back to back: only the last one is the tail.
    for a, b in itertools.product([[1], [1, 2], [1, 2, 3]], [[7], [7, 8], [7, 8, 9, 10]]):
        ids = PREFIX + a * 50 + b * 70
        loop = find_loop(ids)
        assert loop.period == len(b) and loop.start == len(PREFIX) + len(a) * 50
