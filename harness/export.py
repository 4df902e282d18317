"""`harness export`: the problems of a finished run, filtered by per-problem accuracy, as training data.

`--where` is a condition on each problem's accuracy at one budget, read by a small grammar (never `eval`):
comparisons chained like Python's (`0 < avg < 1`, `avg <= 0.25`, `n >= 4`) joined by `and`; the names are
`avg` (mean correctness over the problem's samples) and `n` (its number of samples).

Two formats, chosen by the output suffix; `harness train` reads both (`data: PATH`):
- `.parquet`: the verl/DAPO convention: data_source, prompt (chat messages, template applied), ability,
  reward_model {style: "rule", ground_truth}, extra_info {index, task, avg, n, question};
- `.jsonl`: plain rows {id, task, question, answer, avg, n}, also a `file:` task.
"""

from __future__ import annotations

import json
import operator
import os
import re
from pathlib import Path

from harness.errors import UsageError

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
    run_dir: Path, out: Path, where: str, *, budget: int | None = None, template: str = "boxed", data: str | None = None
) -> int:
    """Write the run's problems that satisfy `where` to `out`; returns how many. Nothing is written on error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import tasks
    from harness import store

    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".jsonl"):
        raise UsageError(f"--out {out}: use a .parquet (verl/DAPO) or .jsonl file")
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
    problems = {}
    for name, digest in hashes.items():
        task = tasks.load(name, source=data or _local(sources.get(name)))
        if digest is not None and task.content_hash != digest:
            raise UsageError(
                f"task {name} from {task.source} is not the data the run used (content hash differs); pass --data"
            )
        problems.update({(name, p.id): p for p in task.problems})
    chosen = [(key, s) for key, s in stats.items() if test(s)]
    if not chosen:
        raise UsageError(f"no problem of run {run_dir.name} satisfies {where!r} at budget {budget}")
    records = []
    for (name, pid), s in chosen:
        p = problems[(name, pid)]
        records.append(
            {"id": pid, "task": name, "question": p.question, "answer": p.answer, "avg": s["avg"], "n": s["n"]}
        )
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".jsonl":
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        else:
            pq.write_table(pa.Table.from_pylist([_verl_row(r, tpl) for r in records]), tmp)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from None
    return len(records)


def _local(source: str | None) -> str | None:
    """A recorded local source (a path) is reused; a hub or generated one is reloaded by name."""
    return source if source and not source.startswith(("hub:", "generated:")) and Path(source).exists() else None


def _verl_row(r: dict, tpl) -> dict:
    return {
        "data_source": r["task"],
        "prompt": [{"role": "user", "content": tpl.render(r["question"])}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": r["answer"]},
        "extra_info": {"index": r["id"], "task": r["task"], "avg": r["avg"], "n": r["n"], "question": r["question"]},
    }
