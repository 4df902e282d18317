"""Throughput and peak memory of `harness entropy`'s teacher-forced pass, against materialising the logits.

A random Llama with Qwen3's vocabulary (151,936) scores random responses; "ours" is
`harness.entropy.measure.token_entropies` (fused lm_head + entropy, chunked), "logits" is the same batches
through the model's own logits and a float32 softmax (what a plain script does). Prints a Markdown table.

    python benchmarks/entropy_analysis.py            # GPU if present: 1024 hidden, 4 layers, 16 x 2048 tokens
    python benchmarks/entropy_analysis.py --small    # a CPU-sized case
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--batch-tokens", type=int, default=16384)
    args = ap.parse_args()
    from transformers import LlamaConfig, LlamaForCausalLM

    from harness.entropy import measure

    device = measure.pick_device()
    hidden, layers, seqs, length = (256, 2, 4, 256) if args.small else (1024, 4, 16, 2048)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=151936,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=hidden // 128,
        max_position_embeddings=length + 128,
    )
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
    prompts = [tuple(torch.randint(0, 151936, (100,)).tolist()) for _ in range(seqs)]
    responses = [torch.randint(0, 151936, (length,)).tolist() for _ in range(seqs)]
    tokens = seqs * length

    def ours():
        return measure.token_entropies(
            model, prompts, responses, temperature=1.0, max_batch_tokens=args.batch_tokens, progress=False
        )[0]

    def logits():
        out = []
        with torch.inference_mode():
            for p, r in zip(prompts, responses):
                ids = torch.tensor([list(p) + r[:-1]], device=device)
                z = model(ids).logits[0, len(p) - 1 :].float()
                logp = torch.log_softmax(z, -1)
                out.append((-(logp.exp() * logp).sum(-1)).cpu())
        return out

    print(
        f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}), {dtype}, "
        f"hidden {hidden}, {layers} layers, V 151936, {seqs} x {length} response tokens\n"
    )
    print("| path | tokens/s | peak memory (GiB) |\n|---|---:|---:|")
    results = {}
    for name, fn in (("ours (fused, chunked)", ours), ("model logits + fp32 softmax, one sequence at a time", logits)):
        fn()  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        results[name] = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
        print(f"| {name} | {tokens / dt:,.0f} | {peak:.2f} |")
    a, b = (torch.cat([torch.as_tensor(x) for x in v]) for v in results.values())
    print(f"\nmax |H_ours - H_logits| = {float((a - b).abs().max()):.4f} (both from the {dtype} model)")


if __name__ == "__main__":
    main()
