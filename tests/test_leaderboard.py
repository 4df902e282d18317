"""The Parquet leaderboard: scores per (run, task, budget), replacement, concurrent writers, old files."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness import leaderboard
from harness.scores import score_samples
from tests.synthetic_runs import make_samples, manifest

FIXTURES = Path(__file__).parent / "fixtures"


def test_append_run_scores_each_task_and_budget(tmp_path):
    samples = make_samples("run-a", "ckpt/a", seed=1)
    rows = leaderboard.append_run(tmp_path / "lb.parquet", samples, manifest("run-a", "ckpt/a"))
    assert [(r["task"], r["budget"]) for r in rows] == [
        ("aime24", 20480),
        ("aime24", 29696),
        ("aime25", 20480),
        ("aime25", 29696),
    ]
    data = samples.to_pylist()
    for row in rows:
        mine = [s for s in data if s["task"] == row["task"] and s["budget"] == row["budget"]]
        assert row["avg"] == pytest.approx(sum(s["correct"] for s in mine) / len(mine))
        assert row["truncation_rate"] == pytest.approx(sum(s["truncated"] for s in mine) / len(mine))
        assert row["n"] == 4 and row["problems"] == 6 and row["curve_point"] is False
        assert json.loads(row["pass_at_k"])["1"] == pytest.approx(row["avg"])
        assert row["ci_lo"] <= row["avg"] <= row["ci_hi"]
        assert row["checkpoint"] == "ckpt/a" and row["temperature"] == 0.6 and row["device"] == "cpu"
        assert sum(row["problem_correct"]) == sum(s["correct"] for s in mine)
    table = leaderboard.read(tmp_path / "lb.parquet")
    assert table.num_rows == 4 and table.schema == leaderboard.SCHEMA
    assert set(table.column("schema_version").to_pylist()) == {leaderboard.SCHEMA_VERSION}


def test_budgets_not_requested_are_curve_points(tmp_path):
    samples = make_samples("run-c", "ckpt/c", budgets=(1024, 2048, 4096), tasks=("aime24",))
    rows = leaderboard.rows_for_run(samples, manifest("run-c", "ckpt/c", budgets=(4096,)))
    assert [(r["budget"], r["curve_point"]) for r in rows] == [(1024, True), (2048, True), (4096, False)]


def test_majority_vote_uses_canonical_answers():
    # Three samples say 7 in different words; the checker's canonical form makes them one answer.
    base = {"run_id": "r", "task": "t", "problem_id": "p", "budget": 10, "response_tokens": 5, "truncated": False}
    said = [("8", "8", False), ("7.0", "7", True), ("007", "7", True), ("7", "7", True)]
    rows = [dict(base, sample_idx=i, extracted=e, canonical=c, correct=ok) for i, (e, c, ok) in enumerate(said)]
    (score,) = score_samples(pa.Table.from_pylist(rows))
    assert score.maj_at_k[4] == 1.0  # 7 x3 against 8 x1
    # Voting on the raw extracted strings would see four different answers and pick the first, "8".
    (raw,) = score_samples(pa.Table.from_pylist(rows).drop_columns(["canonical"]))
    assert raw.maj_at_k[4] == 0.0
    # A row whose canonical form is missing (say, the normaliser timed out) votes with its extracted answer.
    rows[3]["canonical"] = None
    rows[0]["canonical"] = None
    (partial,) = score_samples(pa.Table.from_pylist(rows))
    assert partial.maj_at_k[4] == 1.0  # "7" x2 (+ "7" extracted) against "8"


def test_rejects_duplicate_samples_and_missing_columns():
    samples = make_samples("r", "c", tasks=("aime24",), budgets=(100,))
    with pytest.raises(ValueError, match="appears twice"):
        score_samples(pa.concat_tables([samples, samples.slice(0, 1)]))
    with pytest.raises(ValueError, match="lacks column"):
        score_samples(samples.drop_columns(["correct"]))


def test_readding_a_run_replaces_its_rows(tmp_path):
    path = tmp_path / "lb.parquet"
    leaderboard.append_run(path, make_samples("run-a", "a", seed=1), manifest("run-a", "a"))
    leaderboard.append_run(path, make_samples("run-b", "b", seed=2), manifest("run-b", "b"))
    again = leaderboard.append_run(path, make_samples("run-a", "a", seed=3), manifest("run-a", "a"))
    table = leaderboard.read(path)
    assert table.num_rows == 8
    assert sorted(table.column("run_id").to_pylist()) == ["run-a"] * 4 + ["run-b"] * 4
    stored = [r["avg"] for r in table.to_pylist() if r["run_id"] == "run-a"]
    assert sorted(stored) == sorted(r["avg"] for r in again)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _append_after_barrier(path: str, run_id: str, barrier) -> None:
    samples = make_samples(run_id, f"ckpt/{run_id}", problems=3, n=2, seed=hash(run_id) % 1000)
    rows = leaderboard.rows_for_run(samples, manifest(run_id, f"ckpt/{run_id}"))
    barrier.wait()
    for _ in range(3):  # and rewrite it twice more: replacement under contention
        leaderboard.add_rows(path, rows)


def test_concurrent_processes_all_land(tmp_path):
    path = str(tmp_path / "lb.parquet")
    ctx = mp.get_context("fork")
    runs = [f"run-{i}" for i in range(6)]
    barrier = ctx.Barrier(len(runs))
    procs = [ctx.Process(target=_append_after_barrier, args=(path, r, barrier)) for r in runs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    table = leaderboard.read(path)
    keys = [(r["run_id"], r["task"], r["budget"]) for r in table.to_pylist()]
    assert len(keys) == len(set(keys)) == len(runs) * 4
    assert {k[0] for k in keys} == set(runs)


def write_v0_leaderboard(path: Path) -> None:
    """The draft (v0) layout, written by hand: no schema_version, `accuracy`/`stderr`, fewer fields."""
    table = pa.table(
        {
            "run_id": ["old-run", "old-run"],
            "date": ["2025-05-01T00:00:00+00:00"] * 2,
            "checkpoint": ["Qwen3-8B-dapo"] * 2,
            "task": ["aime24", "aime25"],
            "budget": pa.array([20480, 20480], pa.int64()),
            "n": pa.array([32, 32], pa.int64()),
            "accuracy": [0.51, 0.42],
            "stderr": [0.06, 0.07],
            "pass_at_k": ['{"1": 0.51}', '{"1": 0.42}'],
        }
    )
    pq.write_table(table, path)


@pytest.mark.parametrize("source", ["committed", "generated"])
def test_old_schema_file_reads_and_accepts_new_rows(tmp_path, source):
    path = tmp_path / "lb.parquet"
    if source == "committed":
        path.write_bytes((FIXTURES / "leaderboard_v0.parquet").read_bytes())
    else:
        write_v0_leaderboard(path)
    table = leaderboard.read(path)
    assert table.schema == leaderboard.SCHEMA
    rows = table.to_pylist()
    assert [(r["task"], r["avg"], r["se"], r["schema_version"]) for r in rows] == [
        ("aime24", 0.51, 0.06, 0),
        ("aime25", 0.42, 0.07, 0),
    ]
    assert rows[0]["fingerprint"] is None and rows[0]["n"] == 32
    leaderboard.append_run(path, make_samples("new-run", "x"), manifest("new-run", "x"))
    versions = sorted(leaderboard.read(path).column("schema_version").to_pylist())
    assert versions == [0, 0] + [leaderboard.SCHEMA_VERSION] * 4


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "lb.parquet"
    leaderboard.append_run(path, make_samples("r", "x"), manifest("r", "x"))
    table = pq.read_table(path)
    future = table.set_column(0, "schema_version", pa.array([99] * table.num_rows, pa.int32()))
    pq.write_table(future, path)
    with pytest.raises(ValueError, match="newer rlvr-harness"):
        leaderboard.read(path)


def test_rows_from_the_sample_store_land_on_the_leaderboard(tmp_path):
    """The hand-off `harness eval` makes: store shards -> read_samples -> append_run(path, table, manifest)."""
    from harness import store

    run_dir = tmp_path / "runs" / "abc123"
    run_dir.mkdir(parents=True)
    synthetic = make_samples("abc123", "/ckpts/m", budgets=(512, 1024, 2048), n=4, problems=5).to_pylist()
    for start in range(0, len(synthetic), 25):  # several shards, as a run flushes them
        store.write_shard(
            run_dir, [{name: r.get(name) for name in store.SCHEMA.names} for r in synthetic[start : start + 25]]
        )
    info = {
        "run_id": "abc123",
        "checkpoint": "/ckpts/m",
        "fingerprint": "f00d",
        "task_hashes": {"aime24": "h24"},
        "template": "boxed",
        "sampling": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 2048, "seed": 0},
        "budgets": [1024, 2048],
        "budget_curve": 512,
        "harness_version": "0.1.0",
        "finished_at": "2025-06-02T00:00:00+00:00",
        "wall_time_s": 3.0,
        "device": "cpu (x86_64, 2 cores)",
    }
    columns = [c for c in store.SCHEMA.names if c not in ("response", "token_ids")]
    rows = leaderboard.append_run(tmp_path / "leaderboard.parquet", store.read_samples(run_dir, columns=columns), info)
    assert [(r["task"], r["budget"], r["curve_point"]) for r in rows] == [
        ("aime24", 512, True),
        ("aime24", 1024, False),
        ("aime24", 2048, False),
        ("aime25", 512, True),
        ("aime25", 1024, False),
        ("aime25", 2048, False),
    ]
    first = rows[0]
    assert first["fingerprint"] == "fp-/ckpts/m"  # the sample column wins over the manifest
    assert json.loads(first["sampling"])["max_tokens"] == 2048 and first["wall_time_s"] == 3.0
    assert first["think_closed_rate"] is not None and first["n"] == 4 and first["problems"] == 5
