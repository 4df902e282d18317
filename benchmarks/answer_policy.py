"""How far the answer policy moves each number: avg@n (± SE over problems) per policy at every scored budget of a run.

Regrades a stored run in memory under every policy of tasks/policy.py (nothing is written) with the code
`harness regrade` uses, and prints one Markdown table per task: rows = budgets, columns = policies, the share of
samples cut at that budget alongside. The baseline column is `after-think`, this checker before policies existed.

    python benchmarks/answer_policy.py results/runs/ca61cef0979d [--tokenizer PATH]
"""

from __future__ import annotations

import argparse
import sys

from harness import regrade, scores, store, tables
from tasks.policy import POLICIES


def policy_rows(run_dir, policy: str, decode, kinds: dict) -> list[dict]:
    full = [r for r in store.read_samples(run_dir).to_pylist() if r["response"] is not None]
    budgets = sorted(store.read_manifest(run_dir)["scored_budgets"])
    rows, items = [], []
    for f in full:
        r, i = regrade.rows_for(f, budgets, policy, decode, kinds)
        rows += r
        items += i
    for row, g in zip(rows, regrade.grade_cuts(items, policy, 5.0)):
        row.update(regrade.verdict_columns(g, policy))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a run folder (OUT/runs/<run id>)")
    ap.add_argument("--tokenizer", help="the run's tokenizer (default: its checkpoint)")
    args = ap.parse_args()
    manifest = store.read_manifest(args.run)
    decode = regrade.LazyDecoder(args.tokenizer or manifest["checkpoint"])
    kinds = regrade.kinds_of(manifest)
    by_policy = {}
    for policy in POLICIES:
        rows = policy_rows(args.run, policy, decode, kinds)
        for s in scores.score_samples({k: [r[k] for r in rows] for k in rows[0]}):
            by_policy[(s.task, s.budget, policy)] = s
    names = ["after-think", *[p for p in POLICIES if p != "after-think"]]
    print(f"run {manifest['run_id']}: {manifest['checkpoint']}, n = {manifest['n']}, {manifest['tasks']}\n")
    for task in sorted({t for t, _, _ in by_policy}):
        budgets = sorted({b for t, b, _ in by_policy if t == task})
        body = []
        for b in budgets:
            cells = [f"{100 * by_policy[(task, b, p)].avg:.1f} ± {100 * by_policy[(task, b, p)].se:.1f}" for p in names]
            body.append([b, f"{100 * by_policy[(task, b, names[0])].truncation_rate:.0f}", *cells])
        print(f"### {task}\n")
        print(tables.render(["budget", "cut %", *[f"{p} avg@n %" for p in names]], body, "markdown"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
