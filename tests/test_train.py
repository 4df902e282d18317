"""`harness train` end to end on CPU with a tiny random model built here (tests/train_tiny.py)."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from harness.cli import main
from tests.train_tiny import build, train_flags

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tiny") / "model")


def flags(model, out, **over):
    """tests/train_tiny.py's one-step run, at lr 1e-3 and seed 0."""
    return train_flags(model, out, **{"lr": 1e-3, "seed": 0, **over})


def log_rows(out):
    return [json.loads(x) for x in (Path(out) / "log.jsonl").read_text().splitlines()]


def test_one_step_end_to_end(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out)]) == 0
    (row,) = log_rows(out)
    for key in (
        "reward_mean",
        "accuracy",
        "response_length",
        "truncation_rate",
        "entropy_p50",
        "entropy_p95",
        "selected_fraction",
        "threshold",
        "clip_frac_low",
        "clip_frac_high",
        "clip_frac_dual",
        "grad_norm",
        "gen_tokens_per_s",
        "train_tokens_per_s",
        "peak_memory_mb",
        "rollout_s",
        "update_s",
    ):
        assert row[key] is not None, key
    assert row["step"] == 1 and row["groups_kept"] >= 1 and row["grad_norm"] > 0
    ckpt = out / "checkpoints" / "step_000001"
    trained = AutoModelForCausalLM.from_pretrained(ckpt)  # plain HF format, what `harness eval --ckpt` reads
    init = AutoModelForCausalLM.from_pretrained(tiny)
    assert any(not torch.equal(a, b) for a, b in zip(trained.state_dict().values(), init.state_dict().values()))
    assert (ckpt / "tokenizer_config.json").is_file()


@pytest.mark.parametrize("rho", [0.2, 0.5, 1.0])
def test_rho_reaches_the_loss(tiny, tmp_path, rho):
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, rho=rho, save_every=0)]) == 0
    (row,) = log_rows(out)
    # paper-code: exactly ceil(rho * n) per micro-batch, so the fraction is rho up to rounding per micro-batch
    n_micro = 2 * row["optimizer_steps"]
    assert row["rho"] == rho
    assert abs(row["selected_fraction"] - rho) <= n_micro / row["num_valid"] + 1e-9
    assert row["num_selected"] < row["num_valid"] or rho == 1.0


def test_random_selection_is_reachable_and_reproducible(tiny, tmp_path):
    rows = []
    for i, sel in enumerate((["--preset=random"], ["--selection=random"], ["--preset=random"])):
        out = tmp_path / f"run{i}"
        assert main(["train", *flags(tiny, out, save_every=0), *sel]) == 0
        rows.append(log_rows(out)[0])
        assert yaml.safe_load((out / "config.yaml").read_text())["selection" if i == 1 else "preset"] == "random"
    n_micro = 2 * rows[0]["optimizer_steps"]
    for row in rows:
        assert abs(row["selected_fraction"] - 0.2) <= n_micro / row["num_valid"] + 1e-9
        assert row["threshold"] is None  # no entropy cut
    # Same seed: the same tokens, hence the same loss; preset random == paper-code with selection random.
    for k in ("loss", "grad_norm", "num_selected", "num_valid"):
        assert rows[0][k] == rows[1][k] == rows[2][k], k


@pytest.mark.parametrize(
    "bad,word",
    [
        (["--preset=random", "--invert=true"], "invert"),
        (["--preset=paper-formula", "--selection=random"], "rule topk"),
        (["--selection=loud"], "selection"),
        (["--preset=nope"], "preset"),
    ],
)
def test_meaningless_selection_is_one_line_exit_2(tiny, tmp_path, capsys, bad, word):
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out), *bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and word in err[0]
    assert not out.exists()


def test_bad_config_is_one_line_exit_2(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, rho=1.5)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rho" in err[0]
    assert not out.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("no_such_key: 1\n")
    assert main(["train", "--config", str(bad), f"--model={tiny}", f"--out={out}"]) == 2
    assert "no_such_key" in capsys.readouterr().err
    assert main(["train", *flags(tiny, out, data=str(tmp_path / "missing.jsonl"))]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    assert not (out / "checkpoints").exists()


def test_jsonl_and_dapo_parquet_data(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from train.data import load_items

    rows = [
        {
            "data_source": "math_dapo",
            "prompt": [{"role": "user", "content": f"Q{i % 3}"}],
            "ability": "MATH",
            "reward_model": {"ground_truth": str(i % 3), "style": "rule"},
            "extra_info": {"index": str(i % 3)},
        }
        for i in range(12)
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "dapo.parquet")
    items = load_items(str(tmp_path / "dapo.parquet"), "dapo")
    assert [it.answer for it in items] == ["0", "1", "2"]  # deduplicated
    assert items[0].messages[0]["content"] == "Q0"  # messages used as-is
    (tmp_path / "p.jsonl").write_text('{"prompt": "What is 2+2?", "answer": "4"}\n')
    (it,) = load_items(str(tmp_path / "p.jsonl"), "dapo")
    assert "What is 2+2?" in it.messages[0]["content"] and "Answer:" in it.messages[0]["content"]


def test_kill_and_resume_matches_uninterrupted_run(tiny, tmp_path):
    """A real SIGKILL mid-run; the resumed run ends with the same weights and optimizer state."""
    ref, out = tmp_path / "ref", tmp_path / "killed"
    common = dict(steps=4, save_every=1, mini_batch_prompts=2)
    assert main(["train", *flags(tiny, ref, **common)]) == 0

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "harness.cli", "train", *flags(tiny, out, **common)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = out / "checkpoints" / "step_000002" / "trainer_state.pt"
    deadline = time.time() + 120
    while not target.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert target.exists(), "the run never reached its second checkpoint"
    from train import checkpoint

    killed_at = checkpoint.load_state(checkpoint.latest(out))["step"]
    assert killed_at >= 2

    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    assert [r["step"] for r in log_rows(out)] == [1, 2, 3, 4]
    a = checkpoint.load_state(ref / "checkpoints" / "step_000004")
    b = checkpoint.load_state(out / "checkpoints" / "step_000004")
    assert a["step"] == b["step"] == 4 and a["data"] == b["data"]
    assert a["scheduler"] == b["scheduler"]
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        for k in sa:
            assert torch.allclose(sa[k], sb[k], atol=1e-6), k
    from safetensors.torch import load_file

    wa = load_file(ref / "checkpoints" / "step_000004" / "model.safetensors")
    wb = load_file(out / "checkpoints" / "step_000004" / "model.safetensors")
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)
    for r1, r2 in zip(log_rows(ref), log_rows(out)):
        assert r1["reward_mean"] == r2["reward_mean"]


def test_non_finite_stops_and_keeps_last_good_checkpoint(tiny, tmp_path):
    """An absurd lr blows the weights up after step 1: the run stops (exit 1), step 1's checkpoint stays."""
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, steps=4, lr=1e30, grad_clip=0, weight_decay=0, mini_batch_prompts=4)]) == 1
    rows = log_rows(out)
    assert "stopped" in rows[-1] and "non-finite" in rows[-1]["stopped"]
    from train import checkpoint

    last = checkpoint.latest(out)
    assert last is not None and checkpoint.load_state(last)["step"] == rows[-1]["step"] - 1
    assert not any(p.name.endswith(".tmp") for p in (out / "checkpoints").iterdir())


def test_mixed_precision_step(tiny, tmp_path):
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, save_every=0, mixed_precision="bfloat16")]) == 0
    (row,) = log_rows(out)
    assert row["grad_norm"] > 0 and row["num_valid"] > 0


def test_aime_validation_is_logged(tiny, tmp_path):
    """val_data names an eval task: its accuracy (same checker as `harness eval`) lands in the log."""
    out = tmp_path / "run"
    assert main(["train", *flags(tiny, out, steps=2, save_every=0, val_data="aime24", val_every=2, val_limit=3)]) == 0
    rows = log_rows(out)
    assert "val_accuracy" not in rows[0]
    assert 0.0 <= rows[1]["val_accuracy"] <= 1.0 and rows[1]["val_problems"] == 3


def test_unknown_validation_task_is_one_line_exit_2(tiny, tmp_path, capsys):
    assert main(["train", *flags(tiny, tmp_path / "run", val_data="aime23", val_every=1)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "aime23" in err


@pytest.mark.slow
def test_vllm_backend_trains_and_the_engine_follows_the_policy(tmp_path):
    """backend: vllm samples from an engine in this process; after each update the policy's weights are
    pushed from memory, so at the end the engine decodes exactly like the trained HF model (greedy)."""
    pytest.importorskip("vllm")
    from train.config import load_config
    from train.trainer import Trainer

    model = build(tmp_path / "tiny64", head_dim=64)
    over = dict(
        a.lstrip("-").split("=", 1)
        for a in flags(
            model,
            tmp_path / "run",
            steps=2,
            save_every=0,
            backend="vllm",
            max_prompt_tokens=64,
            rollout_correction="tis",
        )
    )
    tr = Trainer(load_config(None, {k.replace("-", "_"): v for k, v in over.items()}).check(), log=lambda *_: None)
    before = {n: p.detach().clone() for n, p in tr.model.named_parameters()}
    assert tr.train() == 0
    rows = log_rows(tmp_path / "run")
    assert [r["step"] for r in rows] == [1, 2] and all(r["gen_tokens"] > 0 for r in rows)
    for r in rows:  # the sampler-vs-trainer mismatch, and the TIS weights, over all and the selected tokens
        for k in ("mismatch_abs_logp", "mismatch_k3", "rc_weight_mean", "rc_weight_max", "rc_changed_fraction"):
            assert math.isfinite(r[f"{k}_all"]) and math.isfinite(r[f"{k}_selected"]), (k, r)
        assert 0 <= r["mismatch_abs_logp_all"] < 0.05 and 0 < r["rc_weight_max_all"] <= 2.0
    assert any(not torch.equal(before[n], p) for n, p in tr.model.named_parameters())
    prompt = [tr.items[0][1]]
    engine = tr.engine.generate(prompt, ["0"], group_size=1, max_new_tokens=8, temperature=0.0, top_p=1.0, seed=0)
    hf = tr.model.generate(
        input_ids=torch.tensor(prompt),
        attention_mask=torch.ones(1, len(prompt[0]), dtype=torch.long),
        do_sample=False,
        max_new_tokens=8,
        eos_token_id=tr.eos,
        pad_token_id=tr.pad,
    )
    n = int(engine.response_mask[0].sum())
    assert (
        engine.input_ids[0, engine.prompt_width : engine.prompt_width + n].tolist()
        == hf[0, len(prompt[0]) :][:n].tolist()
    )


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "train" / "configs").glob("*.yaml")))
def test_shipped_configs_load_and_pass_the_checks(name, tiny):
    from train.config import load_config

    cfg = load_config(str(REPO / "train" / "configs" / f"{name}.yaml"), {"model": str(tiny)}).check()
    if name.endswith("-paper"):  # the paper's recipe (docs/DESIGN.md "Reference facts")
        assert (cfg.rho, cfg.clip_low, cfg.clip_high, cfg.dual_clip, cfg.lr) == (0.2, 0.2, 0.28, 10.0, 1e-6)
        assert (cfg.prompts_per_step, cfg.group_size, cfg.mini_batch_prompts) == (512, 16, 32)
        assert (cfg.reward_mode, cfg.overlong_buffer, cfg.dynamic_sampling) == ("pm1", 4096, True)


def test_help_lists_every_key_with_its_default_and_meaning(capsys, monkeypatch):
    from train.config import FIELDS, field_help

    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps at the terminal width, also inside "paper-code"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    helps = field_help()
    assert set(helps) == set(FIELDS)
    for name, (_default, meaning) in helps.items():
        assert meaning, f"{name}: no comment in TrainConfig"
        assert "--" + name.replace("_", "-") in text
        assert " ".join(meaning.split())[:30] in text, name
    assert "[default: the preset's]" in text and "[default: paper-code]" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(__import__("train.presets").presets.PRESETS))
def test_every_preset_trains_two_steps_from_the_cpu_demo_config(name, tiny, tmp_path, capsys):
    """`harness train --config train/configs/cpu-demo.yaml --preset NAME --steps 2`, on the tiny model with
    shorter responses and without dynamic sampling (a random model rarely gets a group with unequal rewards, and
    an update must happen every step): each preset runs end to end and logs what reached its loss."""
    out = tmp_path / "run"
    args = ["train", "--config", str(REPO / "train" / "configs" / "cpu-demo.yaml"), "--preset", name, "--steps", "2"]
    over = ["--model", str(tiny), "--out", str(out), "--max-response-tokens", "12", "--dynamic-sampling", "false"]
    assert main([*args, *over]) == 0
    rows = [r for r in log_rows(out) if "step" in r]
    assert [r["step"] for r in rows] == [1, 2] and all(math.isfinite(r["loss"]) for r in rows)
    assert yaml.safe_load((out / "config.yaml").read_text())["preset"] == name
    # cpu-demo.yaml takes one optimizer step per rollout batch, where kl-cov cannot act: the run says so.
    assert ("note: kl-cov cannot act" in capsys.readouterr().out) == (name == "kl-cov")


def test_the_reward_grades_by_the_data_kind(tmp_path):
    """Items carry their task's answer kind; `answer_kind` overrides it (a file of integer answers), and a bad
    value is one ConfigError."""
    from train.config import ConfigError, load_config
    from train.data import answer_kind, load_items

    synthetic = load_items("synthetic:difficulty=1,size=4,seed=0", "plain")
    assert {it.kind for it in synthetic} == {"integer"} and answer_kind(synthetic) == "integer"
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"question": "Compute 2 * 7.", "answer": "14"}\n')
    from_file = load_items(str(rows), "plain")
    assert answer_kind(from_file) == "free" and answer_kind(from_file, "integer") == "integer"
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="answer_kind"):
        load_config(None, {"model": str(model), "answer_kind": "int"}).check()
