"""`harness tasks`: the known tasks (or the ones named), each loaded and validated: size, kind, content hash."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("tasks", help="list and check tasks: every registered one by default, or the specs named")
    p.add_argument(
        "names", nargs="*", help="task specs (aime26, synthetic:size=8, file:PATH); default: every registered task"
    )
    p.add_argument("--data", help="local .jsonl/.parquet file or folder (default: $HARNESS_DATA_DIR, else the hub)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import tasks
    from tasks import registry

    for name in args.names or registry.names():
        task = tasks.load(name, source=args.data)
        print(
            f"{task.name:12s} {registry.title(task.name):10s} {len(task.problems):5d} problems  {task.kind:7s}  "
            f"hash {task.content_hash[:16]}  from {task.source}"
        )
    return 0
