"""`harness grade`: the checker on one response, for debugging a verdict by hand."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser("grade", help="grade one response (argument or stdin) against a gold answer")
    p.add_argument("gold")
    p.add_argument("response", nargs="?", help="response text (default: read stdin)")
    p.add_argument(
        "--timeout",
        type=float,
        default=1.0,
        help="seconds the checker may spend on this answer before it reports `timeout` (default 1.0)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import math

    import tasks
    from harness.errors import UsageError

    if not (args.timeout > 0) or math.isnan(args.timeout):
        raise UsageError(f"--timeout must be a positive number of seconds (got {args.timeout})")
    if not args.gold.strip():
        raise UsageError("the gold answer is empty")
    response = args.response if args.response is not None else sys.stdin.read()
    g = tasks.grade(response, args.gold, timeout=args.timeout)
    print(f"{g.status}\textracted={g.extracted!r}")
    return 0 if g.correct else 1
