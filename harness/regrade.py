"""Grade stored samples under an answer policy, without generating: `harness regrade RUN --answer-policy NAME`.

A run's samples are generated once; every scored budget is a cut of the stored token ids (harness/budgets.py),
and every verdict is read under a named answer policy (tasks/policy.py). Regrading adds, for each sample, the rows
of the (budget, policy) pairs the run lacks, built from the sample's stored full-text row: nothing stored is ever
rewritten. Rows are written in atomic shards of CHUNK samples under the run lock, so a killed regrade leaves a
readable store and a rerun grades exactly what is still missing. `harness eval` uses the same code to score a
budget or a policy asked for after the samples were generated.
"""

from __future__ import annotations

from collections.abc import Callable

from harness import __version__, repetition, store
from harness.budgets import cut, thought_split
from harness.errors import UsageError

CHUNK = 256  # samples per shard


def grade_cuts(items: list[tuple[str, str, str, bool]], policy: str, timeout: float) -> list:
    """Verdicts for (text, gold, kind, truncated) items under `policy`; each distinct item graded once, each task
    by its answer kind's rules."""
    from tasks.grading import config_for, grade_batch

    grades, distinct = {}, list(dict.fromkeys(items))
    for kind in sorted({k for _, _, k, _ in distinct}):
        unique = [i for i in distinct if i[2] == kind]
        batch = grade_batch(
            [t for t, _, _, _ in unique],
            [g for _, g, _, _ in unique],
            timeout=timeout,
            config=config_for(kind, policy),
            truncated=[c for _, _, _, c in unique],
        )
        grades.update(zip(unique, batch))
    return [grades[i] for i in items]


def verdict_columns(g, policy: str) -> dict:
    return {
        "extracted": g.extracted,
        "canonical": g.canonical,
        "status": g.status,
        "correct": bool(g.correct),
        "answer_policy": policy,
        "scored_at": store.now(),
    }


def missing(run_dir, policy: str, budgets: list[int]) -> dict[tuple, list[int]]:
    """(task, problem_id, sample_idx) -> the budgets it has no row for under `policy`, for every generated sample
    (one with a row at its generation budget)."""
    cols = ["task", "problem_id", "sample_idx", "budget", "max_tokens", "answer_policy"]
    t = store.read_samples(run_dir, columns=cols).to_pydict()
    have: dict[tuple, set] = {}
    generated = set()
    for task, pid, idx, b, top, pol in zip(*(t[c] for c in cols)):
        key = (task, pid, idx)
        if b == top:
            generated.add(key)
        if store.policy_of(pol) == policy:
            have.setdefault(key, set()).add(b)
    out = {k: sorted(set(budgets) - have.get(k, set())) for k in sorted(generated)}
    return {k: v for k, v in out.items() if v}


def full_rows(run_dir, keys) -> dict[tuple, dict]:
    """The full-text row of each sample in `keys`."""
    import pyarrow.compute as pc

    wanted = set(keys)
    rows = store.read_samples(run_dir).filter(pc.invert(pc.is_null(pc.field("response")))).to_pylist()
    return {k: r for r in rows if (k := (r["task"], r["problem_id"], r["sample_idx"])) in wanted}


def rows_for(full: dict, budgets: list[int], policy: str, decode: Callable, kinds: dict):
    """New rows for one stored sample at `budgets` under `policy` (no text or ids: its full row keeps them)."""
    rows, items = [], []
    for b in budgets:
        if b > full["max_tokens"]:
            raise UsageError(f"budget {b} is above the run's generation budget {full['max_tokens']}")
        c = cut(full["token_ids"], full["response"], full["finish_reason"], b, decode)
        row = dict(full, response=None, token_ids=None, harness_version=__version__)  # the sample's own columns
        think, answer = thought_split(full.get("think_tokens"), c["response_tokens"])
        row.update(
            budget=b,
            response_tokens=c["response_tokens"],
            think_tokens=think,
            answer_tokens=answer,
            finish_reason=c["finish_reason"],
            truncated=c["truncated"],
            think_closed="</think>" in c["text"],
            repetition_loop=repetition.ends_in_loop(full["token_ids"][:b]),
        )
        rows.append(row)
        items.append((c["text"], full["gold"], kinds[full["task"]], c["truncated"]))
    return rows, items


def fill(run_dir, policy: str, budgets: list[int], *, decode: Callable, kinds: dict, timeout: float) -> int:
    """Write the missing (budget, policy) rows of every generated sample, CHUNK samples a shard; returns how many
    rows were written. The caller holds the run lock."""
    todo = missing(run_dir, policy, budgets)
    keys, written = list(todo), 0
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        fulls = full_rows(run_dir, chunk)
        rows, items = [], []
        for k in chunk:
            r, i = rows_for(fulls[k], todo[k], policy, decode, kinds)
            rows += r
            items += i
        for row, g in zip(rows, grade_cuts(items, policy, timeout)):
            row.update(verdict_columns(g, policy))
        store.write_shard(run_dir, rows)
        written += len(rows)
    return written


def kinds_of(manifest: dict) -> dict[str, str]:
    """Each task's answer kind: recorded in the manifest, else (runs from before it was) the registry's."""
    from tasks import registry

    kinds = dict(manifest.get("task_kinds") or {})
    for name in manifest.get("tasks") or []:
        if name in kinds:
            continue
        base = name.split(":", 1)[0]
        if base == "file":
            kinds[name] = "free"
        elif base in registry.names():
            kinds[name] = registry.get(base).kind
        else:
            raise UsageError(f"run {manifest.get('run_id')}: the answer kind of task {name!r} is not recorded")
    return kinds


class LazyDecoder:
    """The run's tokenizer, loaded on the first cut that needs it (a run scored only at its generation budget, or
    whose samples all ended within every budget, never does)."""

    def __init__(self, ckpt: str | None):
        self.ckpt, self._tok = ckpt, None

    def __call__(self, ids):
        if self._tok is None:
            from harness.backends import load_tokenizer

            self._tok = load_tokenizer(self.ckpt)  # a UsageError naming the folder when it does not load
        return self._tok.decode(ids, skip_special_tokens=True)
