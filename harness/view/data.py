"""What `harness view` shows, read from a results folder: leaderboard rows, runs, samples, entropy analyses.

Nothing is re-derived: leaderboard rows come from `leaderboard.parquet` (`harness.leaderboard.read`) and,
for runs in `runs/` that are not on it, from `harness.leaderboard.rows_for_run` over the run's store;
paired differences from `harness.comparison`; loops from `harness.repetition`; token entropies from the
`tokens.parquet` and `summary.json` that `harness entropy` wrote. Everything is loaded at start-up
without the response text and token ids (so a bad shard fails then, as one line); a sample's text, its
budget cuts and its entropies are read on demand (`sample_detail`), from the one shard that holds it.

A served viewer keeps up with runs still being written: `Results.refresh` (every run) and
`Results.refresh_run` (one) list `runs/` and the shard names of each run and read only the shards and
manifests that are new since they were last read (a shard is never rewritten: the store renames whole
files into place); a run whose shards were set aside is read again. Entropy analyses are read at start-up.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harness import comparison, leaderboard, metrics, repetition, store
from harness.errors import UsageError
from harness.stored_prompts import StoredPrompts

# Sample columns loaded at start-up: everything but the text and the ids.
META_COLUMNS = [c for c in store.SCHEMA.names if c not in ("response", "token_ids")]
# Shards whose full rows stay in memory after a sample of theirs was opened.
SHARD_CACHE = 4
# Per-budget fields of a sample in the problem view.
SAMPLE_FIELDS = (
    "status",
    "correct",
    "extracted",
    "response_tokens",
    "truncated",
    "finish_reason",
    "think_closed",
    "repetition_loop",
)
# Answer-like text the checker may have missed: a box, an "Answer:" line, "the (final) answer is".
ANSWER_LIKE = re.compile(r"\\boxed|\\fbox|\banswer\s*(?:is|:)|final answer", re.IGNORECASE)


@dataclass
class Run:
    run_id: str
    dir: Path
    manifest: dict
    table: pa.Table  # META_COLUMNS plus "shard" (index into shards)
    shards: list[Path]
    stamp: tuple[int, int, int] | None = None  # _stamp of manifest.json when it was read

    @cached_property
    def scores(self) -> list[dict]:
        """Its leaderboard rows, scored from its samples (for a run that is not on the leaderboard)."""
        try:
            return leaderboard.rows_for_run(self.table, self.manifest)
        except ValueError as exc:
            raise UsageError(f"run {self.dir}: cannot score its samples ({exc})") from None

    @cached_property
    def full_rows(self) -> dict[tuple[str, str, int], int]:
        """(task, problem, sample) -> index of the shard holding its full row (response and token ids)."""
        d = self.table.select(["task", "problem_id", "sample_idx", "budget", "max_tokens", "shard"]).to_pydict()
        return {
            (t, p, i): s
            for t, p, i, b, m, s in zip(
                d["task"], d["problem_id"], d["sample_idx"], d["budget"], d["max_tokens"], d["shard"]
            )
            if b == m
        }

    @cached_property
    def budgets(self) -> list[int]:
        return sorted(set(self.table["budget"].to_pylist()))

    @cached_property
    def forced(self) -> dict[tuple[str, str, int, int], dict]:
        """(task, problem, sample, budget) -> its forced answer (`harness eval --force-answer`) under the policy
        the rows are read under: the tail appended at the cut, how many of its tokens were the fixed prefix, and
        the forced verdict. Samples not forced at a budget are absent."""
        if self.table.num_rows == 0:
            return {}
        policy = store.policy_of(self.table["answer_policy"][0].as_py())
        return {
            (r["task"], r["problem_id"], r["sample_idx"], r["budget"]): _forced_fields(r)
            for r in store.read_forced(self.dir).to_pylist()
            if r["answer_policy"] == policy
        }

    @property
    def requested(self) -> list[int]:
        return sorted(self.manifest.get("budgets") or self.budgets)

    @cached_property
    def prompts(self) -> StoredPrompts:
        """Its samples' prompts, under the run's rule; task data from this machine only (never the hub)."""
        return StoredPrompts(self.manifest, hub=False)


@dataclass
class Entropy:
    """One `harness entropy` output folder."""

    id: str  # its path under the results folder
    dir: Path
    run_ids: list[str]
    summary: dict

    @property
    def threshold(self) -> float | None:
        return self.summary.get("top_threshold")


@dataclass
class Results:
    root: Path
    rows: list[dict] = field(default_factory=list)  # leaderboard rows, then those scored from runs not on it
    runs: dict[str, Run] = field(default_factory=dict)  # runs with samples (replaced whole, never mutated)
    entropy: list[Entropy] = field(default_factory=list)
    tokenizer: str | None = None  # used for runs whose checkpoint folder is not here
    version: int = 0  # counts the changes `refresh` found (the served page is rebuilt when it moves)
    _board: list[dict] = field(default_factory=list)  # rows read from leaderboard.parquet
    _board_stamp: tuple[int, int, int] | None = None
    _seen: dict[str, Run] = field(default_factory=dict)  # every run folder read, with or without samples
    _tokenizers: dict = field(default_factory=dict)
    _shards: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _refresh_lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self) -> bool:
        """Pick up runs, shards, manifests and a leaderboard written since they were read (listing the folders;
        only what is new is read). True when something changed. A bad new file is a UsageError (one line)."""
        with self._refresh_lock:
            runs_dir = self.root / "runs"
            found = {p.parent.name: p.parent for p in runs_dir.glob("*/manifest.json")}
            changed = False
            for run_id in sorted(found.keys() | self._seen.keys()):
                changed |= self._update_run(runs_dir / run_id)
            board = self.root / "leaderboard.parquet"
            stamp = _stamp(board)
            if stamp != self._board_stamp:
                self._board = _read_board(board) if stamp is not None and board.is_file() else []
                self._board_stamp = stamp
                changed = True
            if changed:
                self._publish()
            return changed

    def refresh_run(self, run_id: str) -> bool:
        """`refresh` for one run: its shards and manifest, or the run itself when it is new. `run_id` is only
        compared with the names in `runs/`, never joined into a path unchecked."""
        with self._refresh_lock:
            runs_dir = self.root / "runs"
            if run_id not in self._seen:
                listed = {p.name for p in runs_dir.iterdir()} if runs_dir.is_dir() else set()
                if run_id not in listed:
                    return False
            if self._update_run(runs_dir / run_id):
                self._publish()
                return True
            return False

    def _update_run(self, run_dir: Path) -> bool:
        """Read what changed in one run folder since it was read; True when something did."""
        old = self._seen.get(run_dir.name)
        stamp = _stamp(run_dir / "manifest.json")
        if stamp is None:  # removed (or not a run)
            return self._seen.pop(run_dir.name, None) is not None
        shards = store.shard_paths(run_dir)
        if old is not None and stamp == old.stamp and shards == sorted(old.shards):
            return False
        if old is None or not set(old.shards) <= set(shards):
            run = _load_run(run_dir)  # new, or shards set aside: read it whole
        else:
            run = _extend_run(old, [p for p in shards if p not in set(old.shards)], stamp)
        self._seen[run_dir.name] = run
        return True

    def _publish(self) -> None:
        """New `runs` and `rows` from what was read (whole new objects: readers in other threads keep theirs)."""
        runs = {rid: run for rid, run in sorted(self._seen.items()) if run.table.num_rows}
        on_board = {r["run_id"] for r in self._board}
        self.rows = self._board + [r for run in runs.values() if run.run_id not in on_board for r in run.scores]
        self.runs = runs
        self.version += 1

    def run(self, run_id: str) -> Run:
        if run_id not in self.runs:
            raise KeyError(f"no run {run_id!r} with samples in {self.root}")
        return self.runs[run_id]

    def full_rows_of(self, shard: Path) -> pa.Table:
        """The rows of a shard that carry text and ids, kept for the last few shards read: a problem's samples
        are usually in one shard (they finish together), so opening them one after another reads it once."""
        with self._lock:
            if shard in self._shards:
                self._shards.move_to_end(shard)
                return self._shards[shard]
        t = pq.read_table(shard, schema=store.SCHEMA)
        t = t.filter(pc.equal(t["budget"], t["max_tokens"]))
        with self._lock:
            self._shards[shard] = t
            while len(self._shards) > SHARD_CACHE:
                self._shards.popitem(last=False)
        return t

    def entropy_of(self, run_id: str) -> list[Entropy]:
        return [e for e in self.entropy if run_id in e.run_ids]

    def labels(self) -> list[str]:
        return comparison.checkpoint_labels(self.rows)


def load(root: str | Path, tokenizer: str | None = None) -> Results:
    """The results folder, checked: one clear UsageError for a missing folder, no runs, or a bad file.

    `tokenizer`: a checkpoint folder whose tokenizer places budget cuts in the text of runs whose own
    checkpoint is not on this machine (it is checked against each sample: its decoding must give the text).
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"results folder {root} does not exist")
    if tokenizer is not None and not Path(tokenizer).is_dir():
        raise UsageError(f"--tokenizer {tokenizer} is not a checkpoint folder")
    results = Results(root=root, tokenizer=tokenizer)
    results.refresh()
    if not results.rows:
        raise UsageError(
            f"{root} holds no runs (no runs/<run id>/ with samples, no leaderboard.parquet): "
            f"run `harness eval --out {root}` first"
        )
    results.entropy = _load_entropy(root)
    return results


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime_ns, size) of a file, None when there is none: a rewrite (a rename into place) changes it."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _read_board(board: Path) -> list[dict]:
    try:
        return leaderboard.read(board).to_pylist()
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read leaderboard {board}: {_first_line(exc)}") from None


def _read_manifest(run_dir: Path) -> tuple[dict, tuple[int, int, int] | None]:
    stamp = _stamp(run_dir / "manifest.json")
    try:
        return store.read_manifest(run_dir), stamp
    except ValueError as exc:
        raise UsageError(f"{run_dir}/manifest.json is not valid JSON ({exc})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {run_dir}/manifest.json ({exc.strerror or exc})") from None


def _read_meta(shards: list[Path], first: int) -> list[pa.Table]:
    """The META_COLUMNS of each shard, with its index (from `first`) in a "shard" column."""
    tables = []
    for i, path in enumerate(shards, start=first):
        try:
            t = pq.read_table(path, columns=META_COLUMNS, schema=store.SCHEMA)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise UsageError(f"cannot read shard {path}: {_first_line(exc)}") from None
        tables.append(t.append_column("shard", pa.array([i] * t.num_rows, pa.int32())))
    return tables


def _load_run(run_dir: Path) -> Run:
    manifest, stamp = _read_manifest(run_dir)
    shards = store.shard_paths(run_dir)
    tables = _read_meta(shards, 0)
    schema = pa.schema([store.SCHEMA.field(c) for c in META_COLUMNS] + [pa.field("shard", pa.int32())])
    table = _generated_policy(pa.concat_tables(tables)) if tables else schema.empty_table()
    return Run(run_id=run_dir.name, dir=run_dir, manifest=manifest, table=table, shards=shards, stamp=stamp)


def _generated_policy(table: pa.Table) -> pa.Table:
    """The rows read under the answer policy the run's samples were generated under (its first shard's): the rows
    that hold the text. Other policies' rows (`harness regrade`) are on the leaderboard and in `harness compare`."""
    if table.num_rows == 0:
        return table
    policies = pc.fill_null(table["answer_policy"], store.policy_of(None))
    return table.filter(pc.equal(policies, policies[0]))


def _extend_run(old: Run, new_shards: list[Path], stamp: tuple[int, int, int]) -> Run:
    """`old` with the rows of shards written since (read alone) and its manifest read again if it changed."""
    manifest = old.manifest
    if stamp != old.stamp:
        manifest, stamp = _read_manifest(old.dir)
    table = _generated_policy(pa.concat_tables([old.table, *_read_meta(new_shards, len(old.shards))]))
    return Run(
        run_id=old.run_id, dir=old.dir, manifest=manifest, table=table, shards=old.shards + new_shards, stamp=stamp
    )


def _load_entropy(root: Path) -> list[Entropy]:
    out = []
    for tokens in sorted(root.rglob("tokens.parquet")):
        summary_path = tokens.with_name("summary.json")
        if not summary_path.is_file():
            continue  # not a `harness entropy` folder
        try:
            summary = json.loads(summary_path.read_text())
            with pq.ParquetFile(tokens) as f:
                run_ids = pc.unique(f.read(columns=["run_id"]).column("run_id")).to_pylist()
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"cannot read entropy analysis {tokens.parent}: {_first_line(exc)}") from None
        out.append(
            Entropy(
                id=str(tokens.parent.relative_to(root)),
                dir=tokens.parent,
                run_ids=sorted(r for r in run_ids if r),
                summary=summary,
            )
        )
    return out


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# -----------------------------------------------------------------------------
# What the page shows


def index(results: Results) -> dict[str, Any]:
    """The page's data: leaderboard rows, runs, entropy analyses (no sample text)."""
    labels = results.labels()
    paths = sorted({r["checkpoint"] for r in results.rows if r["checkpoint"]})
    label_of = dict(zip(paths, labels))  # checkpoint_labels lists the sorted paths' labels in that order
    return {
        "root": str(results.root),
        "rows": [{**_json_row(r), "label": label_of.get(r["checkpoint"], r["run_id"])} for r in results.rows],
        "labels": labels,
        "runs": {rid: run_info(results, run) for rid, run in results.runs.items()},
        "entropy": {
            e.id: {
                "run_ids": e.run_ids,
                "rho": e.summary.get("rho"),
                "threshold": e.threshold,
                "all": e.summary.get("all"),
                "forking": e.summary.get("forking", [])[:30],
                "histogram": (e.dir / "histogram.png").is_file(),
            }
            for e in results.entropy
        },
    }


def run_info(results: Results, run: Run) -> dict[str, Any]:
    t = run.table
    problems: dict[str, list[str]] = {}
    for task, pid in sorted(set(zip(t["task"].to_pylist(), t["problem_id"].to_pylist()))):
        problems.setdefault(task, []).append(pid)
    m = run.manifest
    return {
        "checkpoint": m.get("checkpoint"),
        "backend": m.get("backend"),
        "budgets": run.requested,
        "scored_budgets": run.budgets,
        "max_tokens": max(run.budgets),
        "problems": problems,
        "sampling": m.get("sampling"),
        "template": m.get("template"),
        "wall_time_s": m.get("wall_time_s"),
        "device": m.get("device"),
        "entropy": [e.id for e in results.entropy_of(run.run_id)],
    }


def problem_samples(
    results: Results, run_id: str, task: str, problem_id: str, budgets: list[int] | None = None
) -> dict[str, Any]:
    """Every sample of one problem in one run: per budget its verdict, answer, length and flags."""
    run = results.run(run_id)
    t = run.table.filter(pc.and_(pc.equal(run.table["task"], task), pc.equal(run.table["problem_id"], problem_id)))
    if t.num_rows == 0:
        raise KeyError(f"run {run_id} has no samples of {task} {problem_id}")
    if budgets is not None:
        t = t.filter(pc.is_in(t["budget"], value_set=pa.array(budgets, pa.int64())))
    samples: dict[int, dict] = {}
    for r in t.select(["sample_idx", "budget", "gold", *SAMPLE_FIELDS]).to_pylist():
        s = samples.setdefault(r["sample_idx"], {"idx": r["sample_idx"], "gold": r["gold"], "at": {}})
        s["at"][str(r["budget"])] = {
            **{k: r[k] for k in SAMPLE_FIELDS},
            "forced": run.forced.get((task, problem_id, r["sample_idx"], r["budget"])),
        }
    return {
        "run": run_id,
        "task": task,
        "problem": problem_id,
        "budgets": sorted(set(t["budget"].to_pylist())),
        "requested": run.requested,
        "samples": [samples[i] for i in sorted(samples)],
    }


def sample_detail(results: Results, run_id: str, task: str, problem_id: str, idx: int) -> dict[str, Any]:
    """One sample in full: prompt, text, where each scored budget cut it, flags per budget, loop, entropies."""
    run = results.run(run_id)
    key = (task, problem_id, idx)
    if key not in run.full_rows:
        raise KeyError(f"run {run_id} has no sample {idx} of {task} {problem_id}")
    table = results.full_rows_of(run.shards[run.full_rows[key]])
    mask = pc.and_(
        pc.and_(pc.equal(table["task"], task), pc.equal(table["problem_id"], problem_id)),
        pc.equal(table["sample_idx"], idx),
    )
    full = table.filter(mask).to_pylist()[0]
    scored = run.table.filter(
        pc.and_(
            pc.and_(pc.equal(run.table["task"], task), pc.equal(run.table["problem_id"], problem_id)),
            pc.equal(run.table["sample_idx"], idx),
        )
    ).to_pylist()
    text, ids = full["response"] or "", full["token_ids"]
    notes: list[str] = []
    offsets = _budget_offsets(results, run, text, ids, [r["budget"] for r in scored], notes)
    budgets = []
    for r in sorted(scored, key=lambda r: r["budget"]):
        b = r["budget"]
        cut = b < len(ids or ())
        cut_text = text if not cut else None if offsets.get(b) is None else text[: offsets[b]]  # None: not known
        loop = r["repetition_loop"]
        if loop is None and ids is not None:
            loop = repetition.ends_in_loop(ids[:b])  # a shard from before the column: the same definition, now
        budgets.append(
            {
                "budget": b,
                "offset": offsets.get(b),
                "cut": cut,
                "curve_point": b not in run.requested,
                **{k: r[k] for k in SAMPLE_FIELDS},
                "repetition_loop": loop,
                "answer_like": _answer_like(cut_text) if r["extracted"] is None and cut_text is not None else None,
                "think_open": cut_text is not None and "<think>" in cut_text and "</think>" not in cut_text,
                "forced": run.forced.get((task, problem_id, idx, b)),  # continued from this cut: not generated
            }
        )
    loop = repetition.find_loop(ids) if ids else None
    return {
        "run": run_id,
        "task": task,
        "problem": problem_id,
        "idx": idx,
        "gold": full["gold"],
        "prompt": _prompt(run, full, notes),
        "text": text,
        "tokens": len(ids or ()),
        "think": _think_span(text),
        "budgets": budgets,
        "loop": None
        if loop is None
        else {
            "period": loop.period,
            "start_token": loop.start,
            "start_offset": _offset(results, run, text, ids, loop.start, notes),
        },
        "entropy": [
            t
            for t in (_sample_entropy(e, run_id, task, problem_id, idx) for e in results.entropy_of(run_id))
            if t["tokens"]
        ],  # the analyses that covered this sample
        "notes": notes,
    }


def _forced_fields(row: dict) -> dict[str, Any]:
    ids = row["forced_token_ids"] or []
    return {
        "tail": row["forced_tail"],
        "tokens": len(ids),
        "prefix_tokens": row["forced_prefix_tokens"],
        "status": row["forced_status"],
        "correct": row["forced_correct"],
        "extracted": row["forced_extracted"],
    }


def _think_span(text: str) -> list[int] | None:
    """[start, end) of the think block (end = len(text) when it never closes); None without one."""
    open_at, close_at = text.find("<think>"), text.find("</think>")
    if open_at < 0 and close_at < 0:
        return None
    start = 0 if open_at < 0 or (0 <= close_at < open_at) else open_at
    return [start, len(text) if close_at < 0 else close_at + len("</think>")]


def _answer_like(text: str) -> str | None:
    """The last answer-like phrase in text the checker found no answer in, with a little context."""
    last = None
    for last in ANSWER_LIKE.finditer(text):  # noqa: B007 (the last match is wanted)
        pass
    if last is None:
        return None
    return text[max(0, last.start() - 40) : last.end() + 60]


def _tokenizer(results: Results, run: Run, text: str, ids, notes: list[str]):
    """The tokenizer that places cuts in this sample's text: the run's checkpoint's, else --tokenizer; it must
    decode the sample's ids to its text. None (with a note saying why) when there is none that does."""
    ckpt = run.manifest.get("checkpoint")
    path = ckpt if ckpt and Path(ckpt).is_dir() else results.tokenizer
    if path is None:
        _note(
            notes,
            f"the run's checkpoint {ckpt} is not on this machine (pass --tokenizer): budget cuts are "
            "listed by token count, not placed in the text",
        )
        return None
    if path not in results._tokenizers:
        from harness.backends import load_tokenizer

        try:
            results._tokenizers[path] = load_tokenizer(path)
        except UsageError as exc:
            results._tokenizers[path] = exc
    tok = results._tokenizers[path]
    if isinstance(tok, UsageError):
        _note(notes, f"{tok}: budget cuts are not placed in the text")
        return None
    if tok.decode(list(ids), skip_special_tokens=True) != text:
        _note(
            notes,
            f"the tokenizer of {path} does not decode this sample's token ids to its text: budget cuts "
            "are not placed in the text",
        )
        return None
    return tok


def _note(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


def _budget_offsets(results, run, text, ids, budgets, notes) -> dict[int, int | None]:
    """Character offset of each budget's cut in the full text (budgets at or past the end: None)."""
    cuts = [b for b in budgets if ids is not None and b < len(ids)]
    if not cuts:
        return {}
    tok = _tokenizer(results, run, text, ids, notes)
    return {b: _prefix_offset(tok, text, ids, b) if tok is not None else None for b in cuts}


def _offset(results, run, text, ids, n_tokens, notes) -> int | None:
    tok = _tokenizer(results, run, text, ids, notes)
    return None if tok is None else _prefix_offset(tok, text, ids, n_tokens)


def _prefix_offset(tokenizer, text: str, ids, n_tokens: int) -> int:
    """Where the first n_tokens end in text: the common prefix of text and their decoding (a cut inside a
    multi-byte character decodes to a replacement character, which stops the common prefix there)."""
    prefix = tokenizer.decode(list(ids[:n_tokens]), skip_special_tokens=True)
    if text.startswith(prefix):
        return len(prefix)
    n = 0
    for a, b in zip(prefix, text):
        if a != b:
            break
        n += 1
    return n


def _prompt(run: Run, row: dict, notes: list[str]) -> str | None:
    """The prompt the sample answered, under the run's rule (`harness.stored_prompts`): the recorded template
    around the task's question, after the run's system message; the task's data from this machine only."""
    from tasks.errors import TaskError

    try:
        prompt = run.prompts.prompt(row, strict=False)
    except (UsageError, TaskError) as exc:
        notes.append(f"prompt not shown: {exc}")
        return None
    if prompt.data_differs:
        notes.append(
            f"task {row['task']} as loaded here differs from the run's data (content hash): the prompt may differ"
        )
    if prompt.switches.chat_template_kwargs:
        notes.append(f"the run's chat template switches: {json.dumps(prompt.switches.chat_template_kwargs)}")
    return prompt.text


def _sample_entropy(e: Entropy, run_id: str, task: str, problem_id: str, idx: int) -> dict[str, Any]:
    t = pq.read_table(
        e.dir / "tokens.parquet",
        columns=["position", "token", "entropy"],
        filters=[
            ("run_id", "=", run_id),
            ("task", "=", task),
            ("problem_id", "=", problem_id),
            ("sample_idx", "=", idx),
        ],
    )
    t = t.sort_by("position")
    threshold = e.threshold
    return {
        "analysis": e.id,
        "rho": e.summary.get("rho"),
        "threshold": threshold,
        "tokens": [
            [tok, round(float(h), 4), threshold is not None and h >= threshold]  # [text, H, in the top set]
            for tok, h in zip(t["token"].to_pylist(), t["entropy"].to_pylist())
        ],
    }


def compare_pair(results: Results, a: str, b: str) -> list[dict[str, Any]]:
    """A minus B (checkpoint labels) per task and requested budget, paired over problems, as `harness compare`."""
    sa, sb = comparison.select(results.rows, a), comparison.select(results.rows, b)
    out = []
    for task in comparison.tasks_of([sa, sb]):
        for budget in comparison.requested_budgets([sa, sb], task):
            ra, rb = sa.rows.get((task, budget)), sb.rows.get((task, budget))
            if ra is None or rb is None:
                continue
            p = comparison.paired(ra, rb, (a, b), iters=metrics.BOOTSTRAP_ITERS, seed=metrics.BOOTSTRAP_SEED)
            out.append(
                {
                    "task": task,
                    "budget": budget,
                    "a": ra["avg"],
                    "a_ci": [ra["ci_lo"], ra["ci_hi"]],
                    "b": rb["avg"],
                    "b_ci": [rb["ci_lo"], rb["ci_hi"]],
                    **(
                        {"diff": p.diff, "lo": p.lo, "hi": p.hi, "problems": p.problems, "verdict": p.verdict}
                        if p
                        else {"diff": None, "verdict": "no per-problem scores to pair"}
                    ),
                }
            )
    return out


def _json_row(r: dict) -> dict:
    """A leaderboard row for the page: NaN (a one-problem SE) as null, JSON blobs parsed."""
    out = {}
    for k, v in r.items():
        if isinstance(v, float) and v != v:
            v = None
        elif k in ("pass_at_k", "maj_at_k", "sampling") and isinstance(v, str):
            v = json.loads(v)
        out[k] = v
    return out
