"""The CPU learning-curve prompts: the synthetic task (tasks.synthetic, difficulty 1), few-shot, bare answer.

At T = 1.0 SmolLM2-135M-Instruct almost never writes \\boxed{} or an "Answer:" line within a few dozen
tokens (0/32 correct with the plain, boxed and "reply with the number" wordings we tried), and on 2
shared CPU cores only short responses fit a 15-minute run. Three worked examples in the user message
bring it to ~10 % correct in 12 tokens: enough signal for GRPO groups of 8.
"""
import json
import sys

from tasks.synthetic import generate

SHOTS = ("Answer with the number only, in the form 'Answer: N'.\nExamples:\n3 + 4\nAnswer: 7\n12 - 2\n"
         "Answer: 10\n5 * 3\nAnswer: 15\n\nNow:\n{expr}")

out = sys.argv[1] if len(sys.argv) > 1 else "results/train_cpu/synthetic_d1.jsonl"
with open(out, "w") as fh:
    for p in generate(seed=0, size=512, difficulty=1):
        expr = p.question.removeprefix("Compute ").removesuffix(". Give the result as an integer.")
        fh.write(json.dumps({"id": p.id, "prompt": SHOTS.format(expr=expr), "answer": p.answer}) + "\n")
