"""A few training steps on one GPU: a random-initialised Qwen3-shaped ~0.5B model, HF rollouts, ρ = 0.2 vs 1.

Measures what the entropy mask buys in the update (the fused kernel skips the lm_head backward of
unselected tokens) at a realistic vocabulary and length: update seconds, trained tokens/s and peak GPU
memory per step, plus generation tokens/s. The model is random, so rewards are random ±1 per response
(seeded): this is a throughput check, not a learning run. Writes a Markdown table to --out.
ρ = 0.2 runs twice, with prompt sharing forced on (each prompt computed once per group) and off; on the first
timed batch it also prints how far the shared path's bf16 log-probs are from the unshared path's.

    python benchmarks/train_gpu.py --tokenizer models/gpu_tok --out results/train_gpu.md
"""

from __future__ import annotations

import argparse
import tempfile
import time


def shared_vs_full(tr, r, micro: int):
    """bf16 log-probs of one micro-batch through the shared-prompt path and through full rows."""
    import torch

    from train.logprobs import token_logprobs
    from train.trainer import micro_tensors

    ids, att, P, labels, mask = micro_tensors(r, slice(0, micro), tr.device)
    with torch.no_grad():
        a = token_logprobs(tr.model, ids, att, P, labels, 1.0, prompt_sharing=0.0)[0][mask].float()
        b = token_logprobs(tr.model, ids, att, P, labels, 1.0, prompt_sharing=1.0)[0][mask].float()
    d = (a - b).abs()
    return float(d.max()), float(d.mean()), int(mask.sum())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tokenizer", required=True, help="folder with a tokenizer (its vocabulary sizes the model)")
    p.add_argument("--out", required=True)
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--micro", type=int, default=16)
    a = p.parse_args()

    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    from train import rollout
    from train.config import TrainConfig
    from train.data import Item
    from train.trainer import Trainer

    tok = AutoTokenizer.from_pretrained(a.tokenizer)
    cfg_m = Qwen3Config(
        vocab_size=len(tok),
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(cfg_m).to(torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    items = [
        Item(str(i), ({"role": "user", "content": f"Compute {i} + {2 * i + 7}. Think step by step."},), "0")
        for i in range(a.prompts * (a.steps + 1))
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        del model
        for rho, share in ((0.2, True), (0.2, False), (1.0, True)):
            cfg = TrainConfig(
                model=tmp,
                out=f"{tmp}/run{rho}",
                data="(given)",
                steps=a.steps + 1,
                prompts_per_step=a.prompts,
                group_size=a.group,
                mini_batch_prompts=a.prompts,
                micro_batch_size=a.micro,
                rollout_batch_size=a.prompts * a.group,
                max_response_tokens=a.max_tokens,
                overlong_buffer=0,
                rho=rho,
                lr=1e-6,
                warmup_steps=0,
                save_every=0,
                dtype="bfloat16",
                prompt_sharing=0.0 if share else 1.0,
            ).check()
            tr = Trainer(cfg, log=lambda *_: None, items=items)
            gen = torch.Generator().manual_seed(1)
            for step in range(a.steps + 1):
                batch = tr.stream.take(a.prompts)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                r = rollout.generate(
                    tr.model,
                    tr.tokenizer,
                    [ids for _, ids in batch],
                    ["0"] * len(batch),
                    group_size=a.group,
                    max_new_tokens=a.max_tokens,
                    temperature=1.0,
                    top_p=1.0,
                    batch_size=a.prompts * a.group,
                    seed=step,
                    prompt_sharing=0.0 if share else 1.0,
                )
                r.rewards = torch.randint(0, 2, (r.input_ids.shape[0],), generator=gen).float() * 2 - 1
                torch.cuda.synchronize()
                t1 = time.perf_counter()
                if step == 1 and share:
                    drift = shared_vs_full(tr, r, a.micro)
                torch.cuda.reset_peak_memory_stats()
                m = tr.update(r)
                torch.cuda.synchronize()
                t2 = time.perf_counter()
                if step:  # step 0 is warm-up
                    rows.append(
                        (
                            rho,
                            share,
                            int(r.lengths.sum()),
                            t1 - t0,
                            t2 - t1,
                            m["num_valid"],
                            m["selected_fraction"],
                            torch.cuda.max_memory_allocated() / 2**30,
                        )
                    )
            del tr
            torch.cuda.empty_cache()
    name = torch.cuda.get_device_name()
    lines = [
        f"# Training step on one GPU ({name})",
        "",
        f"Random-initialised Qwen3-shaped model, {n_params / 1e9:.2f}B parameters (hidden 1024, 28 layers, "
        f"GQA 16/8, vocab {len(tok)}), bf16, AdamW; {a.prompts} prompts x {a.group} responses, up to "
        f"{a.max_tokens} new tokens (HF generate, T = 1.0), micro-batches of {a.micro}, preset paper-code; "
        f"random ±1 rewards. torch {torch.__version__}. Command: `python benchmarks/train_gpu.py "
        f"--tokenizer models/gpu_tok --out results/train_gpu.md`.",
        "",
        "| ρ | shared prompts | step | gen tokens | rollout s | gen tokens/s | update s | trained tokens/s | selected | peak GPU GiB (update) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, (rho, share, gt, rs, us, nv, sel, mem) in enumerate(rows):
        lines.append(
            f"| {rho} | {'yes' if share else 'no'} | {i % a.steps + 1} | {gt} | {rs:.1f} | {gt / rs:.0f} | "
            f"{us:.2f} | {nv / us:.0f} | {sel:.3f} | {mem:.1f} |"
        )
    lines += [
        "",
        f"Shared vs unshared prompt path on one micro-batch of the first timed rollout (bf16): "
        f"max |Δ log p| {drift[0]:.3g}, mean |Δ log p| {drift[1]:.3g} over {drift[2]} response tokens.",
    ]
    text = "\n".join(lines) + "\n"
    open(a.out, "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
