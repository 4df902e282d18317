"""`harness export`: the problems of a finished run, filtered by per-problem accuracy, as training data.

`--where` is a condition on each problem's accuracy at one budget, read by a small grammar (never `eval`):
comparisons chained like Python's (`0 < avg < 1`, `avg <= 0.25`, `n >= 4`) joined by `and`; the names are
`avg` (mean correctness over the problem's samples) and `n` (its number of samples).

Two formats, chosen by the output suffix; `harness train` reads both (`data: PATH`):
- `.parquet`: the verl/DAPO convention (`tasks.verl_rows`): data_source (the task), prompt (chat messages,
  template applied), ability, reward_model {style: "rule", ground_truth}, extra_info {index, task, avg, n, question};
- `.jsonl`: plain rows {id, task, question, answer, avg, n}, also a `file:` task.
"""

from __future__ import annotations

import json
import operator
import os
import re
from pathlib import Path

from harness.errors import UsageError
from tasks import verl_rows

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
_TOKEN = re.compile(r"\s*(<=|>=|==|!=|<|>|[A-Za-z_]+|[-+]?(?:\d+\.?\d*|\.\d+))")
NAMES = ("avg", "n")


def parse_where(text: str):
    """`0 < avg < 1 and n >= 4` -> a function of {"avg": ..., "n": ...}; a UsageError names what is wrong."""
    clauses = []
    for clause in re.split(r"\band\b", text):
        tokens, pos = [], 0
        clause = clause.strip()
        while pos < len(clause):
            m = _TOKEN.match(clause, pos)
            if not m or not m.group(1):
                raise UsageError(
                    f"--where: cannot read {clause[pos:]!r} (use e.g. '0 < avg < 1', names {', '.join(NAMES)})"
                )
            tokens.append(m.group(1))
            pos = m.end()
        if len(tokens) < 3 or len(tokens) % 2 == 0:
            raise UsageError(f"--where: {clause!r} is not a comparison such as 'avg > 0'")
        terms, ops = tokens[::2], tokens[1::2]
        for t in terms:
            if t.isalpha() and t not in NAMES:
                raise UsageError(f"--where: unknown name {t!r}; known: {', '.join(NAMES)}")
        if any(op not in _OPS for op in ops) or not any(t in NAMES for t in terms):
            raise UsageError(
                f"--where: {clause!r} must compare {' or '.join(NAMES)} with numbers using {' '.join(_OPS)}"
            )
        clauses.append((terms, ops))

    def value(term: str, row: dict) -> float:
        return row[term] if term in NAMES else float(term)

    def test(row: dict) -> bool:
        return all(
            all(_OPS[op](value(a, row), value(b, row)) for a, op, b in zip(terms, ops, terms[1:]))
            for terms, ops in clauses
        )

    return test


def problem_stats(rows: list[dict], budget: int) -> dict[tuple[str, str], dict]:
    """(task, problem_id) -> {"avg", "n"} at `budget`, from sample rows with task, problem_id, budget, correct."""
    acc: dict[tuple[str, str], list[bool]] = {}
    for r in rows:
        if r["budget"] == budget:
            acc.setdefault((r["task"], r["problem_id"]), []).append(bool(r["correct"]))
    return {k: {"avg": sum(v) / len(v), "n": len(v)} for k, v in acc.items()}


def export(
    run_dir: Path,
    out: Path,
    where: str,
    *,
    budget: int | None = None,
    template: str = "boxed",
    data: str | None = None,
    force: bool = False,
) -> int:
    """Write the run's problems that satisfy `where` to `out`; returns how many. Nothing is written on error.
    `data`: where the run's task data is now (a file or a folder), when it moved; `force`: replace an existing
    `out`."""
    import tasks
    from harness import store
    from harness.outputs import writable_file, write_atomic

    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".jsonl"):
        raise UsageError(f"--out {out}: use a .parquet (verl/DAPO) or .jsonl file")
    writable_file(out, "--out", force=force)
    if data is not None and not Path(data).exists():
        raise UsageError(f"--data {data}: no such file or folder")
    test = parse_where(where)
    tpl = tasks.get_template(template)
    manifest = store.read_manifest(run_dir)
    if manifest.get("status") != "finished":
        raise UsageError(f"run {run_dir.name} is {manifest.get('status', 'unknown')}, not finished")
    rows = store.read_samples(run_dir, ["task", "task_hash", "problem_id", "budget", "correct"]).to_pylist()
    budgets = sorted({r["budget"] for r in rows})
    budget = budget or max(manifest.get("budgets") or budgets)
    if budget not in budgets:
        raise UsageError(f"run {run_dir.name} has no budget {budget}; it has {', '.join(map(str, budgets))}")
    stats = problem_stats(rows, budget)
    hashes = {r["task"]: r["task_hash"] for r in rows}
    sources = manifest.get("task_sources") or {}
    problems, data_used = {}, False
    for name, digest in hashes.items():
        task, from_data = load_task(name, digest, sources.get(name), run_dir, manifest, data)
        data_used |= from_data
        problems.update({(name, p.id): p for p in task.problems})
    if data is not None and not data_used:
        raise UsageError(
            f"--data {data}: none of run {run_dir.name}'s tasks ({', '.join(hashes)}) was found there "
            "(the data the run used is where it was recorded)"
        )
    chosen = [(key, s) for key, s in stats.items() if test(s)]
    if not chosen:
        raise UsageError(f"no problem of run {run_dir.name} satisfies {where!r} at budget {budget}")
    records = []
    for (name, pid), s in chosen:
        p = problems[(name, pid)]
        records.append(
            {"id": pid, "task": name, "question": p.question, "answer": p.answer, "avg": s["avg"], "n": s["n"]}
        )

    def write(tmp: Path) -> None:
        if suffix == ".jsonl":
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        else:
            with open(tmp, "wb") as f:  # our file object: an error closes it
                verl_rows.write_parquet([_verl_row(r, tpl) for r in records], f)

    write_atomic(out, write, "--out")
    return len(records)


def load_task(name: str, digest: str | None, source: str | None, run_dir: Path, manifest: dict, data: str | None):
    """The run's task `name` with the content hash `digest`, from where it is now: (Task, whether from `data`).

    A generated task is generated again from its recorded spec (its options included). A file, or a registered
    task read from a local file or folder, is looked for at `data` (the source's new place: the file itself, or
    a folder holding it under its name or its recorded relative path), then at its recorded path (a relative one
    resolved against where the eval ran, when the manifest says or its `--out` tells, then the results folder
    and the current folder), then (a registered task) where `tasks.load` looks by default. The first copy with
    the run's content hash is used; none is one UsageError naming every place tried."""
    import tasks
    from tasks.errors import TaskError
    from tasks.loading import generated_spec

    spec = generated_spec(source)
    if spec is not None:
        task = tasks.load(spec)
        if digest is not None and task.content_hash != digest:
            raise UsageError(
                f"task {name} generated again from {spec!r} is not the data run {run_dir.name} used "
                "(content hash differs: the generator changed since)"
            )
        return task, False
    is_file = name.startswith("file:")
    recorded = name[len("file:") :] if is_file else _local_path(source)
    tries: list[tuple[str | None, bool]] = []  # (path or None: the default place, from --data)
    if data is not None:
        if is_file and Path(data).is_dir() and recorded:
            tries += [(str(Path(data) / Path(recorded).name), True)]
            if not Path(recorded).is_absolute():
                tries += [(str(Path(data) / recorded), True)]
        else:
            tries += [(data, True)]
    if recorded:
        tries += [(str(path), False) for path in _resolved(recorded, run_dir, manifest)]
    if not is_file:
        tries += [(None, False)]
    tried, seen = [], set()
    for path, from_data in tries:
        if path in seen:
            continue
        seen.add(path)
        where = path or _default_place()
        if path is not None and not Path(path).exists():
            tried.append(f"{path} (not there)")
            continue
        try:
            task = tasks.load(f"file:{path}") if is_file else tasks.load(name, source=path)
        except TaskError as exc:
            tried.append(f"{where} ({_first_line(str(exc))})")
            continue
        if digest is None or task.content_hash == digest:
            return task, from_data
        tried.append(f"{where} (other data: content hash differs)")
    raise UsageError(
        f"task {name}: none of its copies holds the data run {run_dir.name} used; tried {'; '.join(tried)}; "
        "pass --data with the source file or folder"
    )


def _resolved(recorded: str, run_dir: Path, manifest: dict) -> list[Path]:
    """A recorded path as it is now: an absolute one as is; a relative one against where the eval ran (the
    manifest's `cwd`, else what its relative `--out` tells), the results folder (the run folder's grandparent)
    and the current folder."""
    path = Path(recorded)
    if path.is_absolute():
        return [path]
    bases = []
    if manifest.get("cwd"):
        bases.append(Path(manifest["cwd"]))
    out = (manifest.get("config") or {}).get("out")
    results = run_dir.resolve().parent.parent
    if out and not Path(out).is_absolute() and ".." not in Path(out).parts:
        parts = Path(out).parts
        if results.parts[-len(parts) :] == parts:  # OUT given relative to the folder the eval ran in
            bases.append(Path(*results.parts[: -len(parts)]))
    bases += [results, Path.cwd()]
    return list(dict.fromkeys((base / path).resolve() for base in bases))


def _local_path(source: str | None) -> str | None:
    """A recorded local source (a path); a hub or generated one is None."""
    return source if source and not source.startswith(("hub:", "generated:")) else None


def _default_place() -> str:
    return f"$HARNESS_DATA_DIR ({os.environ['HARNESS_DATA_DIR']})" if os.environ.get("HARNESS_DATA_DIR") else "the hub"


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _verl_row(r: dict, tpl) -> dict:
    extra = {"index": r["id"], "task": r["task"], "avg": r["avg"], "n": r["n"], "question": r["question"]}
    return verl_rows.row(r["task"], [{"role": "user", "content": tpl.render(r["question"])}], r["answer"], extra)
