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


def test_dapo_clip_defaults_are_train_loss_constants():
    import inspect
    import re
    from pathlib import Path

    import yaml

    from train import loss
    from train.config import field_help
    from train.presets import PRESETS, Preset

    repo = Path(__file__).resolve().parent.parent
    want = (loss.DAPO_CLIP_LOW, loss.DAPO_CLIP_HIGH, loss.DAPO_DUAL_CLIP)
    assert want == (0.2, 0.28, 10.0)  # Wang et al. 2025 after DAPO (DESIGN.md, "Reference facts")
    for fn in (loss.token_objective, loss.policy_loss):
        p = inspect.signature(fn).parameters
        assert (p["clip_low"].default, p["clip_high"].default, p["dual_clip"].default) == want, fn.__name__
    fields = {f.name: f.default for f in dataclasses.fields(Preset)}
    assert (fields["clip_low"], fields["clip_high"], fields["dual_clip"]) == want
    assert (PRESETS["paper-code"].clip_low, PRESETS["paper-formula"].clip_high) == want[:2]
    # where a value has to be written out (config help, YAML recipes, the verl script), it is this one
    helps = field_help()
    assert f"DAPO {want[0]:g}" in helps["clip_low"][1] and f"DAPO clip-higher {want[1]:g}" in helps["clip_high"][1]
    assert f"({want[2]:g})" in helps["dual_clip"][1]
    for recipe in sorted((repo / "train/configs").glob("*-paper.yaml")):
        cfg = yaml.safe_load(recipe.read_text())
        assert (cfg["clip_low"], cfg["clip_high"], cfg["dual_clip"]) == want, recipe.name
    script = (repo / "train/examples/verl_dapo_qwen3_8b.sh").read_text()
    verl = {k: float(v) for k, v in re.findall(r"actor\.(clip_ratio_\w+)=([\d.]+)", script)}
    assert (verl["clip_ratio_low"], verl["clip_ratio_high"], verl["clip_ratio_c"]) == want


def test_trl_config_defaults_are_the_dapo_clip():
    import pytest

    pytest.importorskip("trl")
    from train import loss
    from train.integrations.trl import EntropyMaskedGRPOConfig

    f = {x.name: x.default for x in dataclasses.fields(EntropyMaskedGRPOConfig)}
    assert (f["epsilon"], f["epsilon_high"], f["dual_clip"]) == (
        loss.DAPO_CLIP_LOW,
        loss.DAPO_CLIP_HIGH,
        loss.DAPO_DUAL_CLIP,
    )


def test_one_checkpoint_check_one_message_shape(tmp_path, capsys):
    from harness.cli import main
    from tasks import checkpoints
    from train.config import ConfigError, TrainConfig

    empty = tmp_path / "empty"
    empty.mkdir()
    line = f"checkpoint {empty}: no readable config.json (No such file or directory)"
    assert checkpoints.error(empty) == line
    assert main(["eval", "--ckpt", str(empty), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"harness eval: error: {line}"
    try:
        TrainConfig(model=str(empty)).check()
    except ConfigError as exc:
        assert str(exc) == f"model: {line}"
    else:
        raise AssertionError("a model folder without config.json passed")
    (empty / "config.json").write_text("{}")
    (empty / "model.safetensors").write_bytes(b"\x10" + b"\0" * 7 + b"{}")
    assert checkpoints.problem(empty) == "model.safetensors is damaged (truncated (header of 16 bytes, file of 10))"
    assert checkpoints.problem(empty, whole=False) is None
    (empty / "model.safetensors").unlink()
    assert checkpoints.problem(empty) == "no weight files (*.safetensors, *.bin, *.pt, *.gguf)"
    assert checkpoints.problem(empty, weights=()) is None


def test_both_verl_parquet_writers_build_the_row_of_tasks_verl_rows():
    import sys
    from pathlib import Path

    from tasks import verl_rows

    examples = str(Path(__file__).resolve().parent.parent / "train" / "examples")
    sys.path.insert(0, examples)
    try:
        import verl_data
    finally:
        sys.path.remove(examples)
    from harness.export import _verl_row
    from tasks import get_template
    from train.data import Item

    item = Item(id="p1", messages=({"role": "user", "content": "1+1?", "extra": 0},), answer="2")
    (built,) = verl_data.verl_rows([item], "aime24")
    assert built == verl_rows.row("aime24", [{"role": "user", "content": "1+1?"}], "2", {"index": 0, "id": "p1"})
    record = {"id": "p1", "task": "aime24", "question": "1+1?", "answer": "2", "avg": 0.5, "n": 4}
    exported = _verl_row(record, get_template("boxed"))
    assert set(exported) == set(built) and exported["ability"] == built["ability"] == verl_rows.ABILITY
    assert exported["reward_model"] == built["reward_model"] == {"style": "rule", "ground_truth": "2"}


def _named(name: str, text: str) -> bool:
    import re

    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def test_train_config_help_names_every_value_of_each_registry():
    """The help of `harness train --KEY` is TrainConfig's comment: every allowed value is in it."""
    from tasks.registry import KINDS
    from tasks.reward import MODES
    from train.config import DTYPES, MIXED_PRECISIONS, field_help
    from train.loss import ENTROPY_BONUS_OVER, NORMALIZERS, OBJECTIVES
    from train.mask import RULES, SCOPES, SELECTIONS
    from train.presets import PRESETS
    from train.rollout import BACKENDS
    from train.rollout_correction import CORRECTIONS

    helps = field_help()
    registries = {
        "preset": PRESETS,
        "selection": SELECTIONS,
        "objective": OBJECTIVES,
        "rule": RULES,
        "scope": SCOPES,
        "normalizer": NORMALIZERS,
        "entropy_over": ENTROPY_BONUS_OVER,
        "rollout_correction": CORRECTIONS,
        "backend": BACKENDS,
        "reward_mode": MODES,
        "answer_kind": KINDS,
        "dtype": DTYPES,
        "mixed_precision": MIXED_PRECISIONS,
    }
    for key, names in registries.items():
        missing = [n for n in names if n and not _named(n, helps[key][1])]
        assert not missing, f"train config {key}: its help lacks {missing}"


def test_eval_flags_name_every_template_backend_and_policy():
    from harness.backends import BACKENDS
    from harness.cli import build_parser
    from tasks.policy import POLICIES
    from tasks.templates import TEMPLATES

    sub = next(a for a in build_parser()._subparsers._group_actions if a.dest == "command")
    actions = {a.dest: a for a in sub.choices["eval"]._actions}
    assert all(_named(t, actions["template"].help) for t in TEMPLATES)
    assert all(_named(b, actions["backend"].help) for b in BACKENDS)
    assert tuple(actions["backend"].choices) == BACKENDS
    assert tuple(actions["answer_policy"].choices) == tuple(POLICIES)


def test_trl_config_accepts_and_names_every_registry_value(tmp_path):
    import pytest

    pytest.importorskip("trl")
    from train.integrations.trl import EntropyMaskedGRPOConfig
    from train.loss import ENTROPY_BONUS_OVER, NORMALIZERS, OBJECTIVES
    from train.mask import RULES, SCOPES, SELECTIONS

    fields = {f.name: f for f in dataclasses.fields(EntropyMaskedGRPOConfig)}
    base = {"output_dir": str(tmp_path), "use_cpu": True, "report_to": "none"}
    for key, names in {
        "entropy_rule": RULES,
        "entropy_scope": SCOPES,
        "entropy_selection": SELECTIONS,
        "loss_normalizer": NORMALIZERS,
        "loss_objective": OBJECTIVES,
        "entropy_over": ENTROPY_BONUS_OVER,
    }.items():
        help_ = fields[key].metadata["help"]
        assert all(_named(n, help_) for n in names), (key, help_)
        for name in names:
            assert getattr(EntropyMaskedGRPOConfig(**base, **{key: name}), key) == name
        with pytest.raises(ValueError, match=key):
            EntropyMaskedGRPOConfig(**base, **{key: "nonsense"})


def test_verl_plugin_accepts_every_normaliser_and_non_cov_selection():
    import pytest

    pytest.importorskip("verl.trainer.ppo.core_algos")
    import train.integrations.verl as v
    from train.loss import COV_SELECTIONS, NORMALIZERS
    from train.mask import RULES, SCOPES, SELECTIONS

    assert set(v._VERL_SELECTIONS) == set(SELECTIONS) - set(COV_SELECTIONS)
    for normalizer in NORMALIZERS:
        actor = {"policy_loss": v.EntropyMaskedPolicyLossConfig(loss_normalizer=normalizer), "clip_ratio_c": 10.0}
        preset = v.preset_from_config(actor, response_length=16)
        assert preset.normalizer == normalizer
        assert preset.max_response_tokens == (16 if normalizer == "dr-grpo" else 0)
    for rule in RULES:
        for scope in SCOPES:
            v.EntropyMaskedPolicyLossConfig(entropy_rule=rule, entropy_scope=scope)
    for selection in v._VERL_SELECTIONS:
        v.EntropyMaskedPolicyLossConfig(entropy_selection=selection)
