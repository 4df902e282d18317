"""The `harness` command. Heavy packages are imported inside the subcommand that needs them."""

from __future__ import annotations

import argparse
import sys

from harness import __version__


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"rlvr-harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    tasks_p = sub.add_parser("tasks", help="list or check the benchmark tasks")
    tasks_p.add_argument("names", nargs="*", default=["aime24", "aime25"])
    tasks_p.add_argument("--data", help="local .jsonl/.parquet file or folder (default: $HARNESS_DATA_DIR, else the hub)")
    tasks_p.set_defaults(func=cmd_tasks)

    grade_p = sub.add_parser("grade", help="grade one response against a gold answer")
    grade_p.add_argument("gold")
    grade_p.add_argument("response", nargs="?", help="response text (default: read stdin)")
    grade_p.add_argument("--timeout", type=float, default=1.0)
    grade_p.set_defaults(func=cmd_grade)
    return parser


def cmd_tasks(args: argparse.Namespace) -> int:
    import tasks

    for name in args.names:
        task = tasks.load(name, source=args.data)
        print(f"{task.name}: {len(task.problems)} problems  content_hash={task.content_hash[:16]}  source={task.source}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    import tasks

    response = args.response if args.response is not None else sys.stdin.read()
    g = tasks.grade(response, args.gold, timeout=args.timeout)
    print(f"{g.status}\textracted={g.extracted!r}")
    return 0 if g.correct else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from tasks.errors import TaskError

    try:
        return args.func(args)
    except (UsageError, TaskError) as exc:
        print(f"harness {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
