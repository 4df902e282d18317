"""Is `harness view` responsive on a full-size run? 30 problems x 64 samples x 30k-token chains, two budgets.

Builds a synthetic store of that size (real shards through `store.write_shard`, 64 samples per shard as
`harness eval` flushes them; token ids are a random walk, the text is a fixed sentence repeated to
~4 characters per token, so the Parquet files compress as real text would not: the sizes are a floor),
then times, in this process:

- start-up: `harness.view.data.load` (every shard without text and ids) and the page with its index,
  against the baseline a naive viewer would take: `store.read_samples` of the whole run (text and ids);
- opening a problem (`problem_samples`) and a sample (`sample_detail`: one shard read, budget cuts
  placed, loop found), the two requests the served page makes;
- the export with its default caps.

    python benchmarks/view.py [--problems 30] [--samples 64] [--tokens 30000]

Prints a Markdown table (seconds and sizes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from harness import eval_defaults, store
from harness.view import data, page

BUDGETS = eval_defaults.BUDGETS  # harness eval's two budgets
SENTENCE = "Let us consider the sum of the first terms again, "


class CharTokenizer:
    """Each id decodes to 4 characters of the text: stands in for a checkpoint's tokenizer."""

    def __init__(self, text: str):
        self.text = text

    def decode(self, ids, skip_special_tokens=True):  # noqa: ARG002
        return self.text[: 4 * len(ids)]


def build(root: Path, problems: int, samples: int, tokens: int) -> tuple[Path, str]:
    rng = np.random.default_rng(0)
    text = (SENTENCE * (4 * tokens // len(SENTENCE) + 1))[: 4 * tokens]
    run_dir = root / "runs" / "bigrun"
    run_dir.mkdir(parents=True)
    for p in range(problems):
        rows = []
        for s in range(samples):
            ids = np.cumsum(rng.integers(-3, 4, tokens)) % 49152
            for b in BUDGETS:
                rows.append(
                    {
                        "run_id": "bigrun",
                        "checkpoint": "/nowhere/ckpt",
                        "backend": "vllm",
                        "task": "aime24",
                        "problem_id": f"2024-I-{p + 1}",
                        "gold": "7",
                        "sample_idx": s,
                        "max_tokens": max(BUDGETS),
                        "budget": b,
                        "response_tokens": min(b, tokens),
                        "finish_reason": "length",
                        "truncated": True,
                        "think_closed": False,
                        "extracted": None,
                        "status": "no_answer",
                        "correct": False,
                        "repetition_loop": False,
                        "prompt_tokens": 100,
                        "response": text if b == max(BUDGETS) else None,
                        "token_ids": ids.astype(np.int32).tolist() if b == max(BUDGETS) else None,
                    }
                )
        store.write_shard(run_dir, rows)
    store.write_manifest(
        run_dir,
        {
            "run_id": "bigrun",
            "checkpoint": "/nowhere/ckpt",
            "backend": "vllm",
            "budgets": list(BUDGETS),
            "wall_time_s": 3600.0,
        },
    )
    return run_dir, text


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=30)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=30000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (run_dir, text), t_build = timed(lambda: build(root, args.problems, args.samples, args.tokens))
        store_mb = sum(p.stat().st_size for p in run_dir.iterdir()) / 2**20
        _, t_naive = timed(lambda: store.read_samples(run_dir))
        results, t_load = timed(lambda: data.load(root))
        results.tokenizer = "/nowhere"  # place budget cuts with the stand-in tokenizer
        results._tokenizers["/nowhere"] = CharTokenizer(text)
        html, t_page = timed(lambda: page.served_page(results))
        _, t_problem = timed(lambda: data.problem_samples(results, "bigrun", "aime24", "2024-I-2"))
        detail, t_sample = timed(lambda: data.sample_detail(results, "bigrun", "aime24", "2024-I-2", 5))
        _, t_sample2 = timed(lambda: data.sample_detail(results, "bigrun", "aime24", "2024-I-3", 9))
        assert args.tokens <= BUDGETS[0] or detail["budgets"][0]["offset"] == 4 * BUDGETS[0]
        out = root / "report.html"
        _, t_export = timed(lambda: page.write_export(results, out))
        n = args.problems * args.samples
        print(
            f"Store: {args.problems} problems x {args.samples} samples x {args.tokens} tokens ({n} samples, "
            f"budgets {BUDGETS}), {store_mb:.0f} MiB of shards, built in {t_build:.0f} s.\n"
        )
        print("| step | what | seconds | size |\n|---|---|---:|---:|")
        print(f"| baseline: read the whole store | `store.read_samples(run)` (text and ids) | {t_naive:.2f} | |")
        print(f"| start-up | `data.load` (no text, no ids) | {t_load:.2f} | |")
        print(f"| page | served page with its index | {t_page:.2f} | {len(html) / 2**10:.0f} KiB |")
        print(f"| open a problem | `/api/problem` ({args.samples} samples x 2 budgets) | {t_problem:.3f} | |")
        print(
            f"| open a sample, first | `/api/sample` (one shard, cuts placed, loop check; loads the task) | "
            f"{t_sample:.3f} | {len(page.to_json(detail)) / 2**10:.0f} KiB |"
        )
        print(f"| open another sample | `/api/sample`, warm | {t_sample2:.3f} | |")
        print(
            f"| export | default caps (4 samples per problem, 20,000 characters) | {t_export:.2f} | "
            f"{out.stat().st_size / 2**20:.1f} MiB |"
        )


if __name__ == "__main__":
    main()
