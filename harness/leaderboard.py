"""The leaderboard: one Parquet row per (run, task, request, budget), safe to update from many processes.

`harness eval` calls `append_run(path, samples, manifest)` once a run has finished (harness.evaluate.finish). Every write takes an
exclusive `fcntl.flock` on a sidecar file (`leaderboard.parquet.lock`, never deleted: deleting a lock
file lets two writers hold "the" lock at once), reads the current table, replaces the rows of the runs
being added, writes a temporary file in the same folder and renames it over the old one. Readers never
see a half-written file, two evaluations finishing at once both land, and re-adding a run replaces its
rows instead of duplicating them. An entry is (run id, task, n, problems, answer policy) (`entry_key`): the
run id leaves out `--n` and `--limit` (samples are shared), so two requests of different size under one run
id are two entries, and `harness compare` prefers the larger; the same samples read under two answer
policies (tasks/policy.py) are two entries side by side.

Each row records the schema version of the code that wrote it. `read` upgrades older layouts to the
current one (renamed columns, missing columns as nulls) and refuses files from a newer version.

Schema history:
- v0: the draft layout, before this column existed: `accuracy`/`stderr` for `avg`/`se`, fewer fields.
- v1: the fields below. Columns added later within v1 (`repetition_rate`, `seconds_per_solved`,
  `device_seconds_per_solved`, `mean_think_tokens`, `mean_answer_tokens`, `forced_avg`) read as nulls from files written
  before them; `answer_policy`, added later
  too, reads as `after-think` from rows written before it (the policy those verdicts were read under).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from harness import __version__, store
from harness.scores import Score, score_samples
from tasks.files import atomic_path

SCHEMA_VERSION = 1

SCHEMA = pa.schema(
    [
        ("schema_version", pa.int32()),
        ("run_id", pa.string()),
        ("date", pa.string()),  # ISO 8601, UTC: when the run finished
        ("checkpoint", pa.string()),
        ("fingerprint", pa.string()),
        ("task", pa.string()),
        ("task_hash", pa.string()),
        ("template", pa.string()),
        ("sampling", pa.string()),  # JSON object: every sampling parameter of the run
        ("temperature", pa.float64()),
        ("top_p", pa.float64()),
        ("n", pa.int32()),  # samples per problem (the smallest, if a run is partial)
        ("problems", pa.int32()),
        ("budget", pa.int64()),  # max response tokens this row is scored at
        ("answer_policy", pa.string()),  # what a response, cut or not, has answered (tasks/policy.py)
        ("curve_point", pa.bool_()),  # True: a --budget-curve step, not a requested budget
        ("avg", pa.float64()),  # avg@n, a fraction in [0, 1]
        ("forced_avg", pa.float64()),  # avg@n with cut, unanswered samples forced to answer (--force-answer)
        ("se", pa.float64()),  # standard error of avg@n across problems
        ("ci_lo", pa.float64()),  # 95 % bootstrap interval over problems
        ("ci_hi", pa.float64()),
        ("pass_at_k", pa.string()),  # JSON object {"1": ..., "2": ..., "4": ...}
        ("maj_at_k", pa.string()),  # JSON object, same keys
        ("truncation_rate", pa.float64()),
        ("repetition_rate", pa.float64()),  # share of samples ending in a repetition loop (harness.repetition)
        ("acc_untruncated", pa.float64()),  # accuracy over the samples that were not cut off
        ("mean_tokens", pa.float64()),
        ("median_tokens", pa.float64()),
        ("think_closed_rate", pa.float64()),  # share of samples that closed </think>; null if not tracked
        ("mean_think_tokens", pa.float64()),  # response tokens inside the thought, per sample
        ("mean_answer_tokens", pa.float64()),  # response tokens after it (NeMo-Skills reports the two apart)
        ("harness_version", pa.string()),
        ("wall_time_s", pa.float64()),
        ("device", pa.string()),
        ("seconds_per_solved", pa.float64()),  # wall_time_s / correct samples at this budget (see cost())
        ("device_seconds_per_solved", pa.float64()),  # ... times the devices the hf/vllm backend ran on
        ("problem_ids", pa.list_(pa.string())),  # per problem, so `harness compare` can pair runs
        ("problem_n", pa.list_(pa.int32())),  # samples of each problem
        ("problem_correct", pa.list_(pa.int32())),  # correct samples of each problem
    ]
)

# Columns renamed since a version: {version it applies to: {old name: new name}}.
_RENAMED_BEFORE = {1: {"accuracy": "avg", "stderr": "se"}}


def read(path: str | os.PathLike) -> pa.Table:
    """The leaderboard at `path` in the current schema, whatever version wrote it."""
    # One file: ParquetFile, not read_table, which imports pyarrow.dataset (and pandas) on the CLI's light path.
    with pq.ParquetFile(path) as f:
        return _upgrade(f.read(), path)


def append_run(path: str | os.PathLike, samples: Any, manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Score one finished run and put its rows on the leaderboard at `path`; returns the rows added.

    `samples`: the run's sample table (pyarrow Table or column dict) with the store's columns, one row
    per (sample, budget). `manifest`: the run's manifest.json as a dict. Read from it (all optional,
    null when absent): `checkpoint`, `fingerprint`, `task_hashes` ({task: hash}), `template`, `sampling`
    (dict; `temperature` and `top_p` also get columns of their own), `budgets` (the requested budgets;
    other budgets in the table are budget-curve points), `harness_version`, `finished_at` (ISO 8601),
    `wall_time_s`, `device`. A sample column of the same name wins over the manifest where both exist
    (`checkpoint`, `fingerprint`, `task_hash`, `template`); `temperature`/`top_p` columns fill in a
    `sampling` without them, and the latest `scored_at` stands in for a missing `finished_at`.

    The leaderboard scores exactly the rows given: if the store holds more samples than this run asked
    for (a larger --n or --limit earlier under the same run id), pass only the ones to score.
    """
    rows = rows_for_run(samples, manifest)
    add_rows(path, rows)
    return rows


def rows_for_run(samples: Any, manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The leaderboard rows of one run, without writing them."""
    columns = samples.to_pydict() if hasattr(samples, "to_pydict") else dict(samples)
    sampling = dict(manifest.get("sampling") or {})
    for name in ("temperature", "top_p"):
        if name not in sampling and name in columns:
            sampling[name] = next((v for v in columns[name] if v is not None), None)
    requested = manifest.get("budgets")
    requested = {int(b) for b in requested} if requested else None
    task_hashes = manifest.get("task_hashes") or {}
    return [_row(score, columns, manifest, sampling, requested, task_hashes) for score in score_samples(columns)]


def locate(results: str | os.PathLike) -> Path:
    """A results folder (its leaderboard.parquet) or the .parquet file itself, as the user gave it."""
    path = Path(results)
    return path if path.suffix == ".parquet" else path / "leaderboard.parquet"


def load_rows(results: str | os.PathLike) -> list[dict[str, Any]]:
    """Every row (current schema) from a results folder or a leaderboard file; a missing or unreadable file is
    a UsageError (one line)."""
    from harness.errors import UsageError

    path = locate(results)
    if not path.is_file():
        raise UsageError(f"no leaderboard at {path} (run `harness eval` first, or pass --results)")
    try:
        return read(path).to_pylist()
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise UsageError(f"cannot read leaderboard {path}: {exc}") from exc


def select(
    rows: list[dict[str, Any]], tasks: str | None, budgets: str | None, policies: str | None = None
) -> list[dict[str, Any]]:
    """The rows of these tasks, budgets and answer policies (comma-separated, as typed); asking for one that has
    no row is a UsageError naming what there is."""
    from harness.errors import UsageError

    if policies:
        wanted_p = {p.strip() for p in policies.split(",") if p.strip()}
        known_p = {r["answer_policy"] for r in rows}
        if wanted_p - known_p:
            raise UsageError(
                f"no rows under answer policy {', '.join(sorted(wanted_p - known_p))} (policies: "
                f"{', '.join(sorted(known_p)) or 'none'}; `harness regrade RUN --answer-policy NAME` adds them)"
            )
        rows = [r for r in rows if r["answer_policy"] in wanted_p]
    if tasks:
        wanted = {t.strip() for t in tasks.split(",") if t.strip()}
        known = {r["task"] for r in rows}
        unknown = wanted - known
        if unknown:
            raise UsageError(f"no rows for task(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
        rows = [r for r in rows if r["task"] in wanted]
    if budgets:
        try:
            wanted_b = {int(b) for b in budgets.split(",") if b.strip()}
        except ValueError:
            raise UsageError(f"--budget takes comma-separated integers, got {budgets!r}") from None
        known_b = {r["budget"] for r in rows}
        if wanted_b - known_b:
            raise UsageError(
                f"no rows at budget(s) {', '.join(map(str, sorted(wanted_b - known_b)))} "
                f"(budgets: {', '.join(map(str, sorted(known_b))) or 'none'})"
            )
        rows = [r for r in rows if r["budget"] in wanted_b]
    return rows


_ENTRY = ("run_id", "task", "n", "problems", "answer_policy")


def entry_key(row: Mapping[str, Any]) -> tuple:
    """What a leaderboard entry is: one run's scores of one task for one request (its `n` and its number of
    problems, i.e. `--limit`). Re-adding the same request replaces its rows (all budgets); a request with
    another `--n` or `--limit` under the same run id is an entry of its own, so a smoke test never replaces
    the full result."""
    return row["run_id"], row["task"], row["n"], row["problems"], store.policy_of(row.get("answer_policy"))


def add_rows(path: str | os.PathLike, rows: list[Mapping[str, Any]]) -> None:
    """Replace the rows of every entry (`entry_key`) in `rows` with `rows`, atomically and under the file lock."""
    path = Path(path)
    new = pa.Table.from_pylist([_complete(r) for r in rows], schema=SCHEMA)
    keys = {entry_key(r) for r in new.select(list(_ENTRY)).to_pylist()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        if path.exists():
            old = _read_or_rebuild(path)
            ids = old.select(list(_ENTRY)).to_pylist()
            keep = pa.array([entry_key(r) not in keys for r in ids], pa.bool_())
            new = pa.concat_tables([old.filter(keep), new])
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # our file object: closed on an error
            pq.write_table(new, f)


def _read_or_rebuild(path: Path) -> pa.Table:
    """The leaderboard at `path`; a file that does not read (a full disk, a bad copy) is set aside as
    `damaged-leaderboard-<time>.parquet` (never deleted) and its rows rebuilt from the runs beside it
    (`runs/*/`, every stored sample of each under every answer policy it holds). Call under the lock."""
    try:
        return read(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    aside = path.with_name(f"damaged-leaderboard-{store.now().replace(':', '')}.parquet")
    os.replace(path, aside)
    rows, runs = [], sorted(p for p in (path.parent / "runs").glob("*") if (p / "manifest.json").is_file())
    for run_dir in runs:
        table = store.read_samples(
            run_dir, columns=[c for c in store.SCHEMA.names if c not in ("response", "token_ids")]
        )
        if table.num_rows:
            rows += rows_for_run(table, store.read_manifest(run_dir))
    print(
        f"leaderboard {path} is damaged ({reason}): set aside as {aside.name}; rebuilt {len(rows)} row(s) from "
        f"{len(runs)} run(s) in {path.parent / 'runs'}",
        file=sys.stderr,
    )
    return pa.Table.from_pylist([_complete(r) for r in rows], schema=SCHEMA)


def _row(score: Score, columns, manifest, sampling, requested, task_hashes) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": score.run_id,
        "date": manifest.get("finished_at") or _latest(columns.get("scored_at")) or store.now(),
        "checkpoint": _run_value(columns, "checkpoint", score.run_id) or manifest.get("checkpoint"),
        "fingerprint": _run_value(columns, "fingerprint", score.run_id) or manifest.get("fingerprint"),
        "task": score.task,
        "task_hash": _run_value(columns, "task_hash", score.run_id, score.task) or task_hashes.get(score.task),
        "template": _run_value(columns, "template", score.run_id) or manifest.get("template"),
        "sampling": json.dumps(sampling, sort_keys=True),
        "temperature": _float_or_none(sampling.get("temperature")),
        "top_p": _float_or_none(sampling.get("top_p")),
        "n": score.n,
        "problems": score.problems,
        "budget": score.budget,
        "answer_policy": score.answer_policy,
        "curve_point": requested is not None and score.budget not in requested,
        "avg": score.avg,
        "forced_avg": score.forced_avg,
        "se": score.se,
        "ci_lo": score.ci_lo,
        "ci_hi": score.ci_hi,
        "pass_at_k": json.dumps({str(k): v for k, v in score.pass_at_k.items()}),
        "maj_at_k": json.dumps({str(k): v for k, v in score.maj_at_k.items()}),
        "truncation_rate": score.truncation_rate,
        "repetition_rate": score.repetition_rate,
        "acc_untruncated": score.acc_untruncated,
        "mean_tokens": score.mean_tokens,
        "median_tokens": score.median_tokens,
        "think_closed_rate": score.think_closed_rate,
        "mean_think_tokens": score.mean_think_tokens,
        "mean_answer_tokens": score.mean_answer_tokens,
        "harness_version": manifest.get("harness_version") or __version__,
        "wall_time_s": _float_or_none(manifest.get("wall_time_s")),
        "device": manifest.get("device"),
        **cost(manifest, sum(score.problem_correct)),
        "problem_ids": score.problem_ids,
        "problem_n": score.problem_n,
        "problem_correct": score.problem_correct,
    }


def cost(manifest: Mapping[str, Any], solved: int) -> dict[str, float | None]:
    """Generation cost per solved sample: `seconds_per_solved` and `device_seconds_per_solved`.

    seconds_per_solved = the run's `wall_time_s` (manifest) / the number of correct samples at this budget,
    i.e. what one correct answer cost. device_seconds_per_solved multiplies the wall time by the devices the
    generation held: tensor_parallel_size x data_parallel_size with the vllm backend, 1 with hf (the CPU
    counts as one device); null with the openai backend (the server's devices are not known here). Both
    are null without a wall time or when nothing was solved. `wall_time_s` covers the last `harness eval`
    invocation of the run, which generates every budget at once: a run resumed or extended from stored
    samples records only the time of that invocation.
    """
    wall = manifest.get("wall_time_s")
    if wall is None or solved == 0:
        return {"seconds_per_solved": None, "device_seconds_per_solved": None}
    config = manifest.get("config") or {}
    backend = manifest.get("backend") or config.get("backend")
    vllm_devices = int(config.get("tensor_parallel_size") or 1) * int(config.get("data_parallel_size") or 1)
    devices = {"hf": 1, "vllm": vllm_devices}
    per = float(wall) / solved
    return {
        "seconds_per_solved": per,
        "device_seconds_per_solved": per * devices[backend] if backend in devices else None,
    }


def _run_value(columns: dict[str, list], name: str, run_id: str, task: str | None = None) -> Any:
    """The first non-null value of a per-run column among this run's (and task's) samples."""
    if name not in columns:
        return None
    for i, value in enumerate(columns[name]):
        if value is not None and columns["run_id"][i] == run_id and (task is None or columns["task"][i] == task):
            return value
    return None


def _complete(row: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(row) - set(SCHEMA.names)
    if unknown:
        raise ValueError(f"leaderboard rows have unknown field(s) {', '.join(sorted(unknown))}")
    if not row.get("run_id"):
        raise ValueError("leaderboard rows need a run_id")
    return {name: row.get(name) for name in SCHEMA.names}


def _upgrade(table: pa.Table, path) -> pa.Table:
    if "schema_version" in table.column_names:
        versions = [v for v in table.column("schema_version").to_pylist() if v is not None]
        newest = max(versions, default=SCHEMA_VERSION)
        if newest > SCHEMA_VERSION:
            raise ValueError(
                f"{path} was written by a newer rlvr-harness (leaderboard schema v{newest}; this one reads "
                f"up to v{SCHEMA_VERSION}): upgrade rlvr-harness"
            )
        file_version = newest  # a writer always writes the whole schema of its own version
    else:
        file_version = 0
        table = table.append_column("schema_version", pa.array([0] * table.num_rows, pa.int32()))
    for version, renames in sorted(_RENAMED_BEFORE.items()):
        if file_version < version:
            table = table.rename_columns([renames.get(name, name) for name in table.column_names])
    arrays = []
    for f in SCHEMA:
        if f.name in table.column_names:
            arrays.append(table.column(f.name).cast(f.type))
        else:
            arrays.append(pa.nulls(table.num_rows, f.type))
    table = pa.Table.from_arrays(arrays, schema=SCHEMA)
    policies = pa.array([store.policy_of(p) for p in table.column("answer_policy").to_pylist()], pa.string())
    return table.set_column(SCHEMA.get_field_index("answer_policy"), "answer_policy", policies)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _latest(stamps: list | None) -> str | None:
    return max((s for s in stamps or [] if s), default=None)
