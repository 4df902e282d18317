"""Evaluation: backends, sample store, metrics, leaderboard and the `harness` CLI."""

__version__ = "0.1.0"
