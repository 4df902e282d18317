"""`harness entropy` on tiny random checkpoints built here: samples from a real `harness eval` (hf backend),
entropies checked against a float64 softmax of the model's own logits, compare checked by brute force.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import tasks
from harness import store
from harness.cli import main
from harness.entropy import measure, stats
from tests import tiny_bpe

CHAT = tiny_bpe.CHAT


def build_tiny(out: Path, seed: int, chat_template: str = CHAT) -> Path:
    """A byte-level BPE tokenizer over the AIME questions and a 2-layer Llama with random weights."""

    def sharpen(model, tok):  # sharpen some rows so entropies span near-0 to near-log V
        import torch

        model.lm_head.weight.mul_(torch.linspace(0.5, 40, model.config.vocab_size)[:, None])

    return tiny_bpe.build(out, seed=seed, chat_template=chat_template, adjust=sharpen)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir sets HARNESS_DATA_DIR)
    root = tmp_path_factory.mktemp("entropy")
    a = build_tiny(root / "ckpt-a", 0)
    b = build_tiny(root / "ckpt-b", 1)
    out = root / "out"
    assert (
        main(
            [
                "eval",
                "--ckpt",
                str(a),
                "--backend",
                "hf",
                "--out",
                str(out),
                "--tasks",
                "aime24",
                "--limit",
                "2",
                "--n",
                "3",
                "--max-tokens",
                "40",
                "--temperature",
                "0.8",
                "--no-progress",
                "--no-leaderboard",
            ]
        )
        == 0
    )
    (run_dir,) = (out / "runs").iterdir()
    return {"a": a, "b": b, "out": out, "run_dir": run_dir, "run_id": run_dir.name}


def naive_entropies(ckpt: Path, run_dir: Path, temperature: float) -> dict:
    """Float64 everything: the model, the softmax and the sum, one unpadded sequence at a time."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.backends import chat_prompt_ids

    model = AutoModelForCausalLM.from_pretrained(str(ckpt), dtype=torch.float64).eval()
    tok = AutoTokenizer.from_pretrained(str(ckpt))
    questions = {p.id: p.question for p in tasks.load("aime24").problems}
    out = {}
    for r in measure.load_samples(run_dir=run_dir).to_pylist():
        prompt = chat_prompt_ids(tok, tasks.get_template(r["template"]).render(questions[r["problem_id"]]))
        assert len(prompt) == r["prompt_tokens"]
        ids = torch.tensor([list(prompt) + r["token_ids"]])
        with torch.no_grad():
            z = model(ids).logits[0, len(prompt) - 1 : -1] / temperature
        logp = torch.log_softmax(z, dim=-1)
        lp = logp.gather(1, torch.tensor(r["token_ids"])[:, None]).squeeze(1)
        out[(r["problem_id"], r["sample_idx"])] = ((-(logp.exp() * logp).sum(-1)).numpy(), lp.numpy())
    return out


def test_entropies_equal_float64_naive(setup, tmp_path, capsys):
    dest = tmp_path / "an"
    assert (
        main(
            [
                "entropy",
                "--run",
                setup["run_id"],
                "--results",
                str(setup["out"]),
                "--out",
                str(dest),
                "--batch-tokens",
                "150",
                "--dtype",
                "float32",
                "--no-progress",
            ]
        )
        == 0
    )  # several batches, padded
    assert "below 0.01" in capsys.readouterr().out
    tokens = pq.read_table(dest / "tokens.parquet")
    assert set(tokens.column_names) >= {
        "run_id",
        "problem_id",
        "sample_idx",
        "position",
        "token_id",
        "token",
        "entropy",
        "correct",
        "truncated",
    }
    naive = naive_entropies(setup["a"], setup["run_dir"], 0.8)  # T defaults to the run's sampling temperature
    got: dict = {}
    for r in tokens.to_pylist():
        got.setdefault((r["problem_id"], r["sample_idx"]), []).append((r["position"], r["entropy"], r["logprob"]))
    assert got.keys() == naive.keys() and len(got) == 6
    for key, rows in got.items():
        rows.sort()
        h64, lp64 = naive[key]
        assert [p for p, _, _ in rows] == list(range(len(h64)))
        np.testing.assert_allclose([e for _, e, _ in rows], h64, atol=2e-5, rtol=1e-5)
        np.testing.assert_allclose([lp for _, _, lp in rows], lp64, atol=5e-5, rtol=1e-5)
    h = tokens["entropy"].to_numpy()
    assert h.min() < 0.05 and h.max() > 1.0  # the sharpened head gives both ends of the range
    summary = (dest / "summary.md").read_text()
    for text in (
        "share with H < 0.01",
        "80th percentile",
        "0.672",
        "By position",
        "Forking tokens",
        "Correct vs wrong",
        "cut at the budget",
        "T = 0.8",
        "machine:",
        "date:",
    ):
        assert text in summary
    s = json.loads((dest / "summary.json").read_text())
    assert s["all"]["tokens"] == tokens.num_rows
    assert math.isclose(s["all"]["p80"], float(np.percentile(h.astype(np.float64), 80)))
    assert math.isclose(s["all"]["share_below_0.01"], float((h < 0.01).mean()))
    assert math.isclose(s["mean_nll"], -float(tokens["logprob"].to_numpy().astype(np.float64).mean()), rel_tol=1e-9)
    assert sum(
        r["top_count"] for r in stats.forking_tokens(tokens["token"].to_pylist(), h, stats.top_fraction(h), 10**6)
    ) == math.ceil(0.2 * len(h))
    assert (dest / "histogram.png").read_bytes()[:4] == b"\x89PNG"
    assert "| 1 |" in (dest / "forking_tokens.md").read_text()


def test_logits_path_equals_fused_path(setup):
    """Models whose logits are not a plain lm_head matmul go through the model's logits; same numbers."""
    from transformers import AutoTokenizer

    table = measure.load_samples(run_dir=setup["run_dir"])
    prompts = measure.rebuild_prompts(table, AutoTokenizer.from_pretrained(str(setup["b"])))
    model = measure.load_model(setup["b"], measure.pick_device("cpu"))
    responses = table["token_ids"].to_pylist()
    fused = measure.token_entropies(
        model, prompts, responses, temperature=1.3, max_batch_tokens=10**6, progress=False, fused=True
    )
    plain = measure.token_entropies(
        model, prompts, responses, temperature=1.3, max_batch_tokens=64, progress=False, fused=False
    )
    for x, y in zip(fused[0] + fused[1], plain[0] + plain[1]):
        np.testing.assert_allclose(x, y, atol=1e-5, rtol=1e-5)


def test_gpu_matches_cpu(setup):
    """On CUDA (the fused path there runs the Triton kernels): float32 equals the CPU, bfloat16 is close."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    from transformers import AutoTokenizer

    table = measure.load_samples(run_dir=setup["run_dir"])
    prompts = measure.rebuild_prompts(table, AutoTokenizer.from_pretrained(str(setup["a"])))
    responses = table["token_ids"].to_pylist()
    run = lambda device, dtype: np.concatenate(
        measure.token_entropies(  # noqa: E731
            measure.load_model(setup["a"], torch.device(device), dtype),
            prompts,
            responses,
            temperature=0.8,
            max_batch_tokens=256,
            progress=False,
        )[0]
    )
    cpu, gpu32, gpu16 = run("cpu", "float32"), run("cuda", "float32"), run("cuda", None)  # None: bf16 on GPU
    np.testing.assert_allclose(gpu32, cpu, atol=1e-4, rtol=1e-4)
    err = np.abs(gpu16 - cpu)
    top = stats.compare(cpu, gpu16).overlap_share
    print(f"bf16 vs fp32: max |dH| {err.max():.4f}, mean {err.mean():.5f}, top-20 % overlap {100 * top:.1f} %")
    assert err.mean() < 0.05 and top > 0.85


def test_compare_with_itself_and_with_another(setup, tmp_path):
    def compare(a, b, out, *extra) -> int:
        argv = ["entropy", "--run", str(setup["run_dir"]), "--compare", str(a), str(b), "--out", str(out), *extra]
        return main([*argv, "--dtype", "float32", "--no-progress"])

    same = tmp_path / "same"
    assert compare(setup["a"], setup["a"], same) == 0
    t = pq.read_table(same / "compare_tokens.parquet")
    assert np.array_equal(t["entropy_a"].to_numpy(), t["entropy_b"].to_numpy())
    assert "**100.0 %**" in (same / "compare.md").read_text()

    other = tmp_path / "other"
    assert compare(setup["a"], setup["b"], other, "--rho", "0.3") == 0
    t = pq.read_table(other / "compare_tokens.parquet")
    h_a, h_b = t["entropy_a"].to_pylist(), t["entropy_b"].to_pylist()
    k = math.ceil(0.3 * len(h_a))
    top = lambda h: set(sorted(range(len(h)), key=lambda i: (-h[i], i))[:k])  # noqa: E731
    brute = len(top(h_a) & top(h_b))
    c = stats.compare(np.array(h_a), np.array(h_b), 0.3)
    assert (c.k, c.overlap) == (k, brute) and 0 < brute < k
    assert f"in both: {brute} " in (other / "compare.md").read_text()
    high = sorted(top(h_a))
    assert math.isclose(c.high_change["mean_change"], float(np.mean([h_b[i] - h_a[i] for i in high])), rel_tol=1e-5)


def test_compare_small_example_by_hand():
    h_a = np.array([0.0, 2.0, 0.5, 1.0, 3.0, 0.1, 0.2, 0.0, 0.9, 0.3])
    h_b = np.array([0.0, 0.1, 0.6, 1.5, 2.0, 0.1, 0.3, 4.0, 0.2, 0.3])
    c = stats.compare(h_a, h_b, 0.3)  # k = 3; A's top: {4, 1, 3}; B's top: {7, 4, 3}
    assert (c.k, c.overlap) == (3, 2)
    assert math.isclose(c.high_change["mean_change"], ((2.0 - 3.0) + (0.1 - 2.0) + (1.5 - 1.0)) / 3)
    assert c.low_change["tokens"] == 7
    assert stats.top_fraction(np.array([1.0, 1.0, 1.0]), 0.5).tolist() == [
        True,
        True,
        False,
    ]  # k = ceil(1.5), ties: earlier


def _bad_shards(tmp_path, setup, **changes) -> Path:
    rows = measure.load_samples(run_dir=setup["run_dir"]).to_pylist()
    for r in rows:
        r.update(changes)
    path = tmp_path / f"bad-{'-'.join(changes) or 'none'}.parquet"
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(rows, schema=store.SCHEMA), path)
    return path


@pytest.mark.parametrize(
    "case, message",
    [
        ("no-run", "no run 'nope'"),
        ("rho", "--rho must be in (0, 1]"),
        ("temperature", "--temperature must be > 0"),
        ("ckpt", ": not a folder"),
        ("not-parquet", "as Parquet"),
        ("no-ckpt", "--samples needs --ckpt"),
        ("template", "the rebuilt prompt has"),
        ("vocab", "beyond the tokenizer"),
        ("task-hash", "content hash"),
        ("greedy", "entropy at temperature 0"),
    ],
)
def test_bad_input_is_one_line_exit_2(setup, tmp_path, capsys, case, message):
    dest = tmp_path / "dest"
    base = ["entropy", "--results", str(setup["out"]), "--out", str(dest), "--no-progress"]
    run = ["--run", setup["run_id"]]
    argv = {
        "no-run": base + ["--run", "nope"],
        "rho": base + run + ["--rho", "0"],
        "temperature": base + run + ["--temperature", "-1"],
        "ckpt": base + run + ["--ckpt", str(tmp_path / "missing")],
        "no-ckpt": base + ["--samples", str(_bad_shards(tmp_path, setup))],
        "vocab": base
        + ["--samples", str(_bad_shards(tmp_path, setup, token_ids=[5, 99999])), "--ckpt", str(setup["a"])],
        "task-hash": base
        + ["--samples", str(_bad_shards(tmp_path, setup, task_hash="0" * 16)), "--ckpt", str(setup["a"])],
        "greedy": base + ["--samples", str(_bad_shards(tmp_path, setup, temperature=0.0)), "--ckpt", str(setup["a"])],
    }
    if case == "not-parquet":
        (tmp_path / "x.parquet").write_text("not parquet")
        argv[case] = base + ["--samples", str(tmp_path / "x.parquet"), "--ckpt", str(setup["a"])]
    if case == "template":  # a checkpoint whose chat template differs from the one the run used
        other = build_tiny(tmp_path / "other", 0, chat_template=CHAT.replace("<|assistant|>", "<|assistant|>\n\n"))
        argv[case] = base + run + ["--ckpt", str(other)]
    capsys.readouterr()  # building the checkpoints wrote progress bars
    assert main(argv[case]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not dest.exists()
