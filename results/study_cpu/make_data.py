"""Training prompts of the CPU study: the synthetic task (difficulty 1, seed 0, 512 draws) minus every problem
of the held-out evaluation set (difficulty 1, seed 1, 32 problems). Difficulty 1 has few distinct problems, so
two seeds share some; `harness study` refuses a study whose held-out problems are training prompts."""
import json
import sys

from tasks.synthetic import generate

out = sys.argv[1] if len(sys.argv) > 1 else "results/study_cpu/train_d1.jsonl"
held_out = {p.question for p in generate(seed=1, size=32, difficulty=1)}
seen, rows = set(), []
for p in generate(seed=0, size=512, difficulty=1):
    if p.question not in held_out and p.question not in seen:
        seen.add(p.question)
        rows.append({"id": p.id, "prompt": p.question, "answer": p.answer})
with open(out, "w") as fh:
    fh.writelines(json.dumps(r) + "\n" for r in rows)
print(f"{out}: {len(rows)} training problems ({len(held_out)} held out)")
