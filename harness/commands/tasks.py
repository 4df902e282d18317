"""`harness tasks`: load and validate benchmark tasks, print their size and content hash."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("tasks", help="load and check benchmark tasks (60 AIME problems by default)")
    p.add_argument("names", nargs="*", default=["aime24", "aime25"])
    p.add_argument("--data", help="local .jsonl/.parquet file or folder (default: $HARNESS_DATA_DIR, else the hub)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import tasks

    for name in args.names:
        task = tasks.load(name, source=args.data)
        print(f"{task.name:10s} {len(task.problems):4d} problems  hash {task.content_hash[:16]}  from {task.source}")
    return 0
