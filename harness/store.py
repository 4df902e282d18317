"""The sample store: every sample and every score of a run, as Parquet shards under `OUT/runs/<run id>/`.

Layout
    OUT/runs/<run_id>/manifest.json          the run's full configuration (rewritten atomically); `status` is
                                             running | finished | failed (with `error`) | interrupted
    OUT/runs/<run_id>/shard-*.parquet        append-only shards, one per flush of finished samples
    OUT/runs/<run_id>/.lock                  held (flock) while a process writes the run
    OUT/runs/<run_id>/damaged-shard-*.parquet  shards found unreadable, set aside (never read, never deleted)

The run id is a hash of what determines the samples: checkpoint fingerprint, backend, tasks and their
content hashes, template, sampling parameters, generation budget and seed. It leaves out `--n`,
`--limit` and the scored budgets below the generation budget, so a larger `--n` or a new budget reuses
every stored sample. Each shard is written atomically (`tasks.files`: a hidden temporary file, fsynced, then
`os.replace`d into place): a reader (or a resumed run after `kill -9`) sees whole shards or nothing, never a torn row.

Schema: one row per (sample, budget). Columns other tools rely on are marked *.
    run_id*            str    the run (folder name)
    checkpoint         str    checkpoint path as given
    fingerprint        str    `fingerprint(ckpt)`: config.json + weights index/headers
    backend            str    vllm | hf | openai
    task*              str    task name ("aime24")
    task_hash          str    `Task.content_hash`
    problem_id*        str
    gold               str    the gold answer
    sample_idx*        int32  0..n-1
    seed               int64  the sample's own seed (`sample_seed`)
    template           str    template name;  template_hash  str
    temperature, top_p float64
    max_tokens         int64  generation budget (the largest budget)
    budget*            int64  the budget this row is scored at
    prompt_tokens      int32
    response_tokens*   int32  min(generated tokens, budget)
    finish_reason*     str    "stop" or "length" (at this budget)
    truncated*         bool   the response did not end within this budget
    think_closed       bool   "</think>" appears in the response at this budget
    repetition_loop    bool   the response at this budget ends in a repetition loop (`harness.repetition`);
                              null in shards written before this column existed
    think_tokens       int32  of response_tokens, those inside the thought (up to and including `</think>`; all of
                              them while it is open, in the response or from the prompt; 0 without one)
    answer_tokens      int32  of response_tokens, those after the thought (both null in older shards)
    answer_policy*     str    the answer policy the verdict was read under (tasks/policy.py); a sample has one
                              row per (budget, policy). Null in shards written before policies existed: those
                              verdicts were read as `after-think` reads (`policy_of`)
    extracted*         str    the checker's extracted answer (null: none)
    canonical          str    the checker's normalised answer (majority votes use it)
    status*            str    correct | wrong | no_answer | timeout | error
    correct*           bool
    response           str    full response text; only on the row where budget == max_tokens, of the policy the
                              sample was generated under (else null: one copy of the text per sample)
    token_ids          list<int32>  generated ids; only on that same row (smaller budgets are cuts of it)
    harness_version    str
    generated_at       str    ISO 8601 UTC, when the sample finished
    scored_at          str    ISO 8601 UTC, when this row was graded

Forced answers (`harness eval --force-answer`, harness/forcing.py) are kept apart, in append-only
`forced-*.parquet` shards (FORCED_SCHEMA): one row per (sample, budget, answer policy) that was cut before it
answered and continued. `with_forced(run_dir, table)` joins them onto sample rows as `forced_correct` and
`forced_extracted` (the natural verdict where nothing was forced) and `forced` (whether it was).

Shards written before a column was added read back with nulls in it (`read_samples` reads every shard
with this schema). Reading: `read_samples(run_dir)` returns all rows as one pyarrow Table (drop `response`/`token_ids` with
`columns=` for speed); `read_manifest(run_dir)` the manifest dict.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from harness.errors import UsageError
from tasks import checkpoints, files
from tasks.policy import LEGACY_POLICY

SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("checkpoint", pa.string()),
        ("fingerprint", pa.string()),
        ("backend", pa.string()),
        ("task", pa.string()),
        ("task_hash", pa.string()),
        ("problem_id", pa.string()),
        ("gold", pa.string()),
        ("sample_idx", pa.int32()),
        ("seed", pa.int64()),
        ("template", pa.string()),
        ("template_hash", pa.string()),
        ("temperature", pa.float64()),
        ("top_p", pa.float64()),
        ("max_tokens", pa.int64()),
        ("budget", pa.int64()),
        ("prompt_tokens", pa.int32()),
        ("response_tokens", pa.int32()),
        ("finish_reason", pa.string()),
        ("truncated", pa.bool_()),
        ("think_closed", pa.bool_()),
        ("extracted", pa.string()),
        ("canonical", pa.string()),
        ("status", pa.string()),
        ("correct", pa.bool_()),
        ("response", pa.string()),
        ("token_ids", pa.list_(pa.int32())),
        ("harness_version", pa.string()),
        ("generated_at", pa.string()),
        ("scored_at", pa.string()),
        ("repetition_loop", pa.bool_()),
        ("answer_policy", pa.string()),
        ("think_tokens", pa.int32()),
        ("answer_tokens", pa.int32()),
    ]
)

FORCED_SCHEMA = pa.schema(
    [
        ("task", pa.string()),
        ("problem_id", pa.string()),
        ("sample_idx", pa.int32()),
        ("budget", pa.int64()),
        ("answer_policy", pa.string()),
        ("forced_tail", pa.string()),  # what was appended to the cut text: delimiter, answer prefix, continuation
        ("forced_token_ids", pa.list_(pa.int32())),  # the ids of the forced prefix, then of the continuation
        ("forced_prefix_tokens", pa.int32()),  # how many of forced_token_ids were the fixed prefix
        ("forced_extracted", pa.string()),
        ("forced_status", pa.string()),
        ("forced_correct", pa.bool_()),
        ("forced_at", pa.string()),
    ]
)
FORCED_KEY = ["task", "problem_id", "sample_idx", "budget", "answer_policy"]


def policy_of(value: str | None) -> str:
    """A row's answer policy: rows stored before policies existed were read as `after-think` reads."""
    return value if value is not None else LEGACY_POLICY


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def fingerprint(ckpt: str | os.PathLike) -> str:
    """A cheap identity for a checkpoint folder, without reading gigabytes of weights.

    Hashes config.json, any *.index.json, and per weight file its name, size and first and last MiB
    (a safetensors file starts with its tensor table, so two different weights almost surely differ there).
    """
    root = Path(ckpt)
    h = hashlib.sha256()
    for name in ["config.json", *sorted(p.name for p in root.glob("*.index.json"))]:
        h.update(name.encode() + b"\0" + (root / name).read_bytes())
    for p in sorted(p for p in root.iterdir() if p.name.endswith(checkpoints.WEIGHT_SUFFIXES)):
        size = p.stat().st_size
        h.update(f"{p.name}\0{size}\0".encode())
        with open(p, "rb") as f:
            h.update(f.read(1 << 20))
            f.seek(max(0, size - (1 << 20)))
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def run_id(key: dict) -> str:
    """The run folder name: a hash of everything that determines the samples."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def sample_seed(base_seed: int, task: str, problem_id: str, sample_idx: int) -> int:
    """Per-sample seed: reproducible, independent of batch order, n and --limit."""
    digest = hashlib.sha256(f"{base_seed}:{task}:{problem_id}:{sample_idx}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class RunLock:
    """An exclusive flock on a folder's `.lock` (a run's, a study's): two processes never write the same folder.
    The holder writes its pid there, so a refused process can say who holds it. kill -9 releases it."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def acquire(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def holder(self) -> str:
        """The pid the holder wrote ("?" when unknown)."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def write_shard(run_dir: Path, rows: list[dict], *, kind: str = "shard", schema: pa.Schema = SCHEMA) -> Path | None:
    """Append rows as a new shard (`kind` "shard": samples; "forced": forced answers, FORCED_SCHEMA), atomically
    (`tasks.files.atomic_path`)."""
    if not rows:
        return None
    table = pa.Table.from_pylist(rows, schema=schema)
    name = f"{kind}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
    final = run_dir / name
    # A full disk or a Ctrl-C mid-write: no half-written temporary stays. Our file object, closed on an error
    # (pyarrow's own, opened from a path, may stay open and keep the space of the removed file).
    with files.atomic_path(final) as tmp, open(tmp, "wb") as f:
        pq.write_table(table, f)
    return final


def clean_temporaries(run_dir: Path) -> None:
    """Remove half-written shards and manifests left by a killed process (call only while holding the run lock);
    `.tmp-*` is how versions before tasks.files named them."""
    files.remove_temporaries(run_dir)
    for p in run_dir.glob(".tmp-*"):
        p.unlink()


def shard_damage(path: Path) -> str | None:
    """Why a shard cannot be read whole (None: it reads, in the store's schema). A shard is written atomically,
    so damage comes from outside: a full disk, a bad copy, a truncating tool."""
    try:
        pq.read_table(path, schema=SCHEMA)
    except (pa.ArrowException, OSError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def set_aside_damaged(run_dir: Path) -> list[tuple[Path, Path, str]]:
    """Rename every unreadable shard to `damaged-<name>` (never deleted; no longer read), so a rerun generates
    its samples again. Call only while holding the run lock. Returns (shard, new path, reason) for each."""
    moved = []
    for path in shard_paths(run_dir):
        reason = shard_damage(path)
        if reason is not None:
            target = path.with_name("damaged-" + path.name)
            os.replace(path, target)
            moved.append((path, target, reason))
    if moved:
        files.fsync_dir(run_dir)
    return moved


def shard_paths(run_dir: str | os.PathLike) -> list[Path]:
    return sorted(Path(run_dir).glob("shard-*.parquet"))


def read_samples(run_dir: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """Every row of a run, in shard order (an empty table with the schema when nothing is stored yet)."""
    paths = shard_paths(run_dir)
    if not paths:
        schema = SCHEMA if columns is None else pa.schema([SCHEMA.field(c) for c in columns])
        return schema.empty_table()
    tables = []
    for p in paths:
        try:
            tables.append(pq.read_table(p, columns=columns, schema=SCHEMA))
        except (pa.ArrowException, OSError) as exc:
            raise DamagedShard(p, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    return pa.concat_tables(tables)


class DamagedShard(UsageError):
    """A shard that does not read; `harness eval` on the run sets it aside and generates its samples again."""

    def __init__(self, path: Path, reason: str):
        super().__init__(
            f"run {path.parent.name}: shard {path.name} is damaged ({reason}); rerun the same "
            "`harness eval` to set it aside and generate its samples again"
        )
        self.path, self.reason = path, reason


def read_forced(run_dir: str | os.PathLike) -> pa.Table:
    """Every forced answer of a run (FORCED_SCHEMA; empty when nothing was forced)."""
    paths = sorted(Path(run_dir).glob("forced-*.parquet"))
    if not paths:
        return FORCED_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(p, schema=FORCED_SCHEMA) for p in paths])


def with_forced(run_dir: str | os.PathLike, table: pa.Table) -> pa.Table:
    """`table` (sample rows) with `forced` (the row's sample was continued at this budget), `forced_correct` and
    `forced_extracted` (the forced verdict there, else the natural one), row order kept."""
    import pyarrow.compute as pc

    forced = read_forced(run_dir).select([*FORCED_KEY, "forced_correct", "forced_extracted"])
    keyed = table.set_column(
        table.schema.get_field_index("answer_policy"),
        "answer_policy",
        pc.fill_null(table["answer_policy"], LEGACY_POLICY),
    ).append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    joined = keyed.join(forced, keys=FORCED_KEY, join_type="left outer").sort_by("_row")
    was = pc.invert(pc.is_null(joined["forced_correct"]))
    out = table
    for name, natural in (("forced_correct", "correct"), ("forced_extracted", "extracted")):
        out = out.append_column(name, pc.if_else(was, joined[name], table[natural]))
    return out.append_column("forced", was)


def read_manifest(run_dir: str | os.PathLike) -> dict:
    return json.loads((Path(run_dir) / "manifest.json").read_text())


def write_manifest(run_dir: Path, manifest: dict) -> None:
    files.atomic_write_json(run_dir / "manifest.json", manifest, indent=2, sort_keys=True)


def disk_full(exc: BaseException, path: Path) -> UsageError | None:
    """The one line for a write that found no space left (ENOSPC, EDQUOT), else None."""
    import errno
    import shutil

    if not isinstance(exc, OSError) or exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    try:
        free = f"{shutil.disk_usage(path).free / 2**20:.1f} MiB free"
    except OSError:
        free = "free space unknown"
    return UsageError(
        f"no space left writing {exc.filename or path} ({free}); what was stored is kept: free some space "
        "and rerun the same command to resume"
    )
