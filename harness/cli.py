"""The `harness` command line.

Each subcommand lives in its own module under `harness/commands/` with `register(subparsers)`; the
modules import nothing heavy at top level (torch, vllm, transformers are imported inside the function
that runs the subcommand), so `harness --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness import __version__
from harness.errors import UsageError

# Order is the order of `harness --help`.
COMMANDS = [
    "eval",
    "leaderboard",
    "compare",
    "regrade",
    "view",
    "entropy",
    "train",
    "study",
    "export",
    "prepare_model",
    "tasks",
    "grade",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Evaluate, reward and train RLVR reasoning models.")
    parser.add_argument("--version", action="version", version=f"rlvr-harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"harness.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from harness.procs import Terminated, sigterm_as_interrupt
    from tasks.errors import TaskError

    try:
        with sigterm_as_interrupt():  # SIGTERM (timeout, Slurm, docker stop) cleans up as Ctrl-C does
            return int(args.func(args) or 0)
    except (UsageError, TaskError) as exc:
        print(f"harness {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"harness {args.command}: terminated (SIGTERM); finished work is kept, rerun to resume", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"harness {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
