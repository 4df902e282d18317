"""One home per fact: where a value or a list of allowed names is stated once and read everywhere else, the
readers agree with it (a copy that drifts fails here)."""

from __future__ import annotations

import dataclasses

from harness import eval_defaults


def _eval_flags(*argv: str):
    from harness.cli import build_parser

    return build_parser().parse_args(["eval", "--ckpt", "x", *argv])


def test_eval_flags_and_config_default_to_the_same_settings():
    from harness.evaluate import EvalConfig

    args = _eval_flags()
    cfg = EvalConfig(ckpt="x", tasks=list(eval_defaults.TASKS))
    assert args.tasks.split(",") == list(eval_defaults.TASKS)
    assert (args.n, args.temperature, args.top_p, args.template) == (cfg.n, cfg.temperature, cfg.top_p, cfg.template)
    assert [int(b) for b in args.max_tokens.split(",")] == cfg.budgets == list(eval_defaults.BUDGETS)
    assert (cfg.n, cfg.temperature, cfg.top_p) == (16, 0.6, 0.95)  # the community's settings (DESIGN.md)
    defaults = {f.name: f for f in dataclasses.fields(EvalConfig)}
    assert defaults["budgets"].default_factory() is not defaults["budgets"].default_factory()  # not shared


def test_bootstrap_settings_are_metrics_constants():
    import inspect

    from harness import metrics
    from harness.cli import build_parser

    assert (metrics.BOOTSTRAP_ITERS, metrics.BOOTSTRAP_SEED, metrics.BOOTSTRAP_LEVEL) == (10_000, 0, 0.95)
    for fn in (metrics.bootstrap_ci, metrics.paired_bootstrap):
        p = inspect.signature(fn).parameters
        assert (p["iters"].default, p["seed"].default, p["level"].default) == (10_000, 0, 0.95), fn.__name__
    args = build_parser().parse_args(["compare", "a"])
    assert (args.iters, args.seed) == (metrics.BOOTSTRAP_ITERS, metrics.BOOTSTRAP_SEED)
