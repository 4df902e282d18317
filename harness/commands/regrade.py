"""`harness regrade RUN --answer-policy NAME`: grade a run's stored samples under another answer policy.

No generation: every scored budget is cut from the stored ids and read under the policy (harness/regrade.py).
Rows for the new policy are added beside the old ones (nothing stored is rewritten), and the run's leaderboard
entries get their rows under it, beside the existing ones. Resumable: a rerun grades only what is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import UsageError
from tasks.policy import POLICIES


def register(sub) -> None:
    p = sub.add_parser("regrade", help="grade a run's stored samples under another answer policy (no generation)")
    p.add_argument("run", metavar="RUN", help="the run folder (OUT/runs/<run id>), or a run id under --results")
    p.add_argument("--answer-policy", required=True, choices=POLICIES, help="the policy to read the samples under")
    p.add_argument("--results", default="results", help="results folder holding runs/ (default results)")
    p.add_argument(
        "--tokenizer",
        help="where the run's tokenizer is, for cutting stored ids at smaller budgets (default: its checkpoint)",
    )
    p.add_argument("--grade-timeout", type=float, default=1.0, help="seconds per answer (default 1.0)")
    p.add_argument("--no-leaderboard", action="store_true", help="leave RESULTS/leaderboard.parquet as it is")
    p.add_argument("--chunk", type=int, default=None, help=argparse.SUPPRESS)  # samples per shard (tests)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness import regrade, store
    from tasks.grading import check_timeout

    check_timeout(args.grade_timeout)
    run_dir = _run_dir(args.run, args.results)
    try:
        manifest = store.read_manifest(run_dir)
    except (OSError, ValueError) as exc:
        raise UsageError(f"run {run_dir}: cannot read its manifest.json ({exc})") from None
    kinds = regrade.kinds_of(manifest)
    budgets = manifest.get("scored_budgets") or manifest.get("budgets")
    if not budgets:
        raise UsageError(f"run {run_dir}: its manifest records no scored budgets")
    lock = store.RunLock(run_dir)
    if not lock.acquire():
        lock.release()
        raise UsageError(f"run {run_dir} is being written by another process")
    try:
        store.clean_temporaries(run_dir)
        if args.chunk:
            regrade.CHUNK = args.chunk
        decode = regrade.LazyDecoder(args.tokenizer or manifest.get("checkpoint"))
        added = regrade.fill(
            run_dir, args.answer_policy, sorted(budgets), decode=decode, kinds=kinds, timeout=args.grade_timeout
        )
        print(f"run {run_dir.name}: {added} row(s) graded under {args.answer_policy}")
        if not args.no_leaderboard:
            board = run_dir.parent.parent / "leaderboard.parquet"
            print(f"leaderboard: {board} ({_leaderboard_rows(board, run_dir, manifest)} row(s) of this run)")
    finally:
        lock.release()
    return 0


def _run_dir(run: str, results: str) -> Path:
    path = Path(run)
    if not (path / "manifest.json").is_file():
        path = Path(results) / "runs" / run
    if not (path / "manifest.json").is_file():
        raise UsageError(f"no run {run!r}: neither a run folder nor a run id under {results}/runs")
    return path


def _leaderboard_rows(board: Path, run_dir: Path, manifest: dict) -> int:
    """Put the run's rows under every policy its samples have on the leaderboard, for each request (n, problems)
    the leaderboard already holds for the run (else the manifest's n over every stored problem)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from harness import leaderboard, store

    cols = [c for c in store.SCHEMA.names if c not in ("response", "token_ids")]
    table = store.read_samples(run_dir, columns=cols)
    requests = set()
    if board.is_file():
        for r in leaderboard.load_rows(board):
            if r["run_id"] == manifest["run_id"] and not r["curve_point"]:
                requests.add((r["task"], r["n"], tuple(r["problem_ids"] or ())))
    if not requests:
        n = manifest.get("n") or 1 + max(table.column("sample_idx").to_pylist(), default=0)
        tasks = table.column("task").to_pylist()
        ids = table.column("problem_id").to_pylist()
        for task in set(tasks):
            requests.add((task, n, tuple(sorted({p for t, p in zip(tasks, ids) if t == task}))))
    added = 0
    for task, n, problems in sorted(requests):
        mask = pc.and_(
            pc.and_(pc.equal(table["task"], task), pc.is_in(table["problem_id"], value_set=pa.array(problems))),
            pc.less(table["sample_idx"], n),
        )
        added += len(leaderboard.append_run(board, table.filter(mask), manifest))
    return added
