"""Results folders for the `harness view` tests.

`synthetic_results`: runs from tests/synthetic_runs.py written as real store shards (no text, no model).
`constructed_results`: a tiny random checkpoint (tests/tiny_bpe.py) and two runs whose responses are
written here (a repetition loop, hostile HTML, an unclosed think block, an answer the checker cannot
read) and then scored and stored by `harness eval`'s own code (`evaluate.plan` and `_rows`, real
grading, real `repetition_loop`), one of them on the leaderboard and analysed by `harness entropy`.
No generation is needed: the viewer only reads what is stored.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import store
from tests import synthetic_runs, tiny_bpe

HOSTILE = '</script><script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
GEN_BUDGET = 600
CUT_BUDGET = 16
FORCED_TAIL = "\n\n**Final Answer**\n\\boxed{204}"  # run A, 2024-I-1 sample 1, forced at CUT_BUDGET


def write_store_run(root: Path, run_id: str, checkpoint: str, **kwargs) -> Path:
    """A synthetic run as shards + manifest under root/runs/<run id>/ (full rows carry a short text)."""
    budgets = kwargs.setdefault("budgets", (20480, 29696))
    table = synthetic_runs.make_samples(run_id, checkpoint, **kwargs)
    rows = table.to_pylist()
    for r in rows:
        r["max_tokens"] = max(budgets)
        if r["budget"] == max(budgets):
            r["response"] = f"sample {r['sample_idx']} of {r['problem_id']}: \\boxed{{{r['extracted']}}}"
    run_dir = root / "runs" / run_id
    run_dir.mkdir(parents=True)
    half = len(rows) // 2
    store.write_shard(run_dir, rows[:half])
    store.write_shard(run_dir, rows[half:])
    store.write_manifest(run_dir, {**synthetic_runs.manifest(run_id, checkpoint, budgets), "backend": "hf"})
    return run_dir


def synthetic_results(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_store_run(root, "run-a", "/ckpts/alpha", skill=0.7, seed=1)
    write_store_run(root, "run-b", "/ckpts/beta", skill=0.3, seed=2)
    return root


def _sharpen(model, tok):  # entropies from near 0 to near log V, as in tests/test_entropy_analysis.py
    import torch

    model.lm_head.weight.mul_(torch.linspace(0.5, 40, model.config.vocab_size)[:, None])


def _texts_a(tok) -> dict[tuple[str, int], tuple[list[int], str]]:
    """(problem, sample) -> (token ids, finish reason) of run A."""
    enc = lambda s: tok.encode(s, add_special_tokens=False)  # noqa: E731
    loop = enc("Let me think about the walk. ")
    while len(loop) < GEN_BUDGET:
        loop += enc(" wait, again and")
    return {
        ("2024-I-1", 0): (loop[:GEN_BUDGET], "length"),
        ("2024-I-1", 1): (enc(HOSTILE + " The walk takes 204 minutes, so the answer is \\boxed{204}."), "stop"),
        ("2024-I-1", 2): (enc("<think>She walks " + "and then she rests " * 3 + "</think> So \\boxed{204}"), "stop"),
        ("2024-I-2", 0): (enc("<think>I keep thinking about the board " + "and more " * 20), "stop"),
        ("2024-I-2", 1): (enc("Counting the cases the final answer is twenty five"), "stop"),
        ("2024-I-2", 2): (enc("\\boxed{25}"), "stop"),
    }


def _store_run(ckpt: Path, out: Path, seed: int, texts: dict) -> str:
    """Score and store the given responses with `harness eval`'s own planning and row-building code."""
    from harness import evaluate
    from harness.backends import Request, Sample

    cfg = evaluate.EvalConfig(
        ckpt=str(ckpt),
        tasks=["aime24"],
        n=3,
        limit=2,
        budgets=[CUT_BUDGET, GEN_BUDGET],
        backend="hf",
        out=str(out),
        seed=seed,
        temperature=0.8,
        top_p=1.0,
    )
    p = evaluate.plan(cfg)
    finished = []
    for (pid, idx), (ids, finish) in texts.items():
        prompt_ids, messages = p.prompts[("aime24", pid)]
        request = Request(("aime24", pid, idx), prompt_ids, messages, store.sample_seed(seed, "aime24", pid, idx))
        text = p.tokenizer.decode(ids, skip_special_tokens=True)
        finished.append((request, Sample(text, tuple(ids), finish), store.now()))
    p.run_dir.mkdir(parents=True)
    store.write_shard(p.run_dir, evaluate._rows(p, finished[:3], p.budgets))
    store.write_shard(p.run_dir, evaluate._rows(p, finished[3:], p.budgets))
    store.write_manifest(
        p.run_dir,
        evaluate.manifest(p, status="finished", finished_at=store.now(), wall_time_s=6.0, device="cpu (test)"),
    )
    return p.run_id


def _write_forced(run_dir: Path, tok) -> None:
    """A forced answer (as `harness eval --force-answer` stores one) for sample 1 of 2024-I-1, cut at CUT_BUDGET
    before it answered; the viewer draws it at that cut."""
    (row,) = [
        r
        for r in store.read_samples(run_dir).to_pylist()
        if (r["problem_id"], r["sample_idx"], r["budget"]) == ("2024-I-1", 1, CUT_BUDGET)
    ]
    assert row["truncated"] and row["status"] == "no_answer"
    ids = tok.encode(FORCED_TAIL, add_special_tokens=False)
    forced = {
        **{k: row[k] for k in store.FORCED_KEY},
        "forced_tail": FORCED_TAIL,
        "forced_token_ids": ids,
        "forced_prefix_tokens": len(ids) - 4,
        "forced_extracted": "204",
        "forced_status": "correct",
        "forced_correct": True,
        "forced_at": store.now(),
    }
    store.write_shard(run_dir, [forced], kind="forced", schema=store.FORCED_SCHEMA)


def constructed_results(root: Path) -> dict:
    """root/ckpt/tiny-a, tiny-b (same weights), root/results with run A (on the leaderboard, entropy-analysed)
    and run B (only in runs/). Returns their ids and paths."""
    from transformers import AutoTokenizer

    from harness import leaderboard
    from harness.cli import main

    ckpt_a = tiny_bpe.build(root / "ckpt" / "tiny-a", seed=0, adjust=_sharpen, max_positions=4096)
    ckpt_b = Path(shutil.copytree(ckpt_a, root / "ckpt" / "tiny-b"))
    results = root / "results"
    tok = AutoTokenizer.from_pretrained(str(ckpt_a))
    run_a = _store_run(ckpt_a, results, 0, _texts_a(tok))
    short = lambda s: (tok.encode(s, add_special_tokens=False), "stop")  # noqa: E731
    run_b = _store_run(
        ckpt_b,
        results,
        1,
        {
            (pid, i): short(f"\\boxed{{{gold}}}")
            for pid, gold in (("2024-I-1", 204), ("2024-I-2", 25))
            for i in range(3)
        },
    )
    run_dir = results / "runs" / run_a
    _write_forced(run_dir, tok)
    leaderboard.append_run(results / "leaderboard.parquet", store.read_samples(run_dir), store.read_manifest(run_dir))
    assert main(["entropy", "--run", run_a, "--results", str(results), "--no-progress"]) == 0
    return {"results": results, "run_a": run_a, "run_b": run_b, "ckpt_a": ckpt_a, "ckpt_b": ckpt_b}
