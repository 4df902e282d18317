"""Reward vs step for the masked (rho 0.2) and unmasked (rho 1.0) CPU runs: results/train_cpu/reward.png."""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = Path(__file__).parent
fig, ax = plt.subplots(figsize=(6, 3.6))
for rho, colour in (("0.2", "tab:red"), ("1.0", "tab:blue")):
    path = here / f"log_rho{rho}.jsonl"
    if not path.exists():
        continue
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    steps = [r["step"] for r in rows if "reward_mean" in r]
    reward = [r["reward_mean"] for r in rows if "reward_mean" in r]
    ax.plot(steps, reward, "o-", color=colour, ms=3, label=f"rho = {rho}" + (" (top-20 % entropy)" if rho == "0.2" else " (all tokens)"))
ax.set_xlabel("rollout step")
ax.set_ylabel("mean reward (= accuracy, 0/1)")
ax.set_title("SmolLM2-135M-Instruct, synthetic arithmetic, CPU", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(here / "reward.png", dpi=120)
