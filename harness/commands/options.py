"""Command-line options shared by several commands (the leaderboard's source and the output format)."""

from __future__ import annotations

import argparse

from harness import tables


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        default="results",
        help="results folder holding leaderboard.parquet, or the .parquet file (default results)",
    )
    p.add_argument("--task", help="comma-separated tasks to keep (e.g. aime24,aime25)")
    p.add_argument("--budget", help="comma-separated budgets to keep (e.g. 20480,29696)")
    p.add_argument(
        "--answer-policy",
        help="comma-separated answer policies to keep (committed, after-think, last-box, strict; tasks/policy.py)",
    )


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=tables.FORMATS, default="table")
    p.add_argument("--out", help="write to this file instead of stdout")
