#!/bin/bash
# Every preset for 2 steps from the shipped CPU demo config (issue 12's check), SmolLM2-135M-Instruct, 2 CPU cores:
#   harness train --config train/configs/cpu-demo.yaml --preset NAME --steps 2 $EXTRA
# EXTRA (default: --backend vllm --max-sampling-rounds 1) keeps it to minutes: with the config's HF rollouts and
# two sampling rounds one step took 9 min on the shared machine. The exact command, extra-free, runs per preset
# on a tiny model in tests/test_train.py.
# Writes results/presets_cpu/NAME.jsonl (the training log) and results/presets_cpu/summary.md.
cd "$(dirname "$0")/../.."
export PYTHONPATH=$PWD
model=${MODEL:-/work/models/smollm2}
extra=${EXTRA:---backend vllm --max-sampling-rounds 1}
rm -f results/presets_cpu/exit_codes.txt
presets=$(python -c "from train.presets import PRESETS; print(' '.join(PRESETS))")
for p in $presets; do
  rm -rf runs/presets_cpu/$p
  SECONDS=0
  python -m harness.cli train --config train/configs/cpu-demo.yaml --preset $p --steps 2 $extra \
    --model $model --out runs/presets_cpu/$p > results/presets_cpu/$p.out 2>&1
  rc=$?
  cp runs/presets_cpu/$p/log.jsonl results/presets_cpu/$p.jsonl 2>/dev/null
  echo "$p $rc $SECONDS" >> results/presets_cpu/exit_codes.txt
done
python - <<'PY'
import json
from pathlib import Path
d = Path("results/presets_cpu")
rows = [line.split() for line in (d / "exit_codes.txt").read_text().splitlines()]
import os
extra = os.environ.get("EXTRA", "--backend vllm --max-sampling-rounds 1")
out = [f"# `harness train --config train/configs/cpu-demo.yaml --preset NAME --steps 2 {extra}`", "",
       "SmolLM2-135M-Instruct, 2 CPU cores; whole-process wall time. One line per preset.", "",
       "| preset | exit | wall s | steps logged | loss (step 1, 2) | selected fraction | clip/cov fraction | rollout accuracy % |",
       "|---|---:|---:|---:|---|---:|---|---|"]
for name, rc, wall in rows:
    log = [json.loads(x) for x in (d / f"{name}.jsonl").read_text().splitlines()] if (d / f"{name}.jsonl").exists() else []
    steps = [r for r in log if "step" in r]
    loss = ", ".join("skipped" if "loss" not in r else f"{r['loss']:.4f}" for r in steps)
    sel = [r["selected_fraction"] for r in steps if "selected_fraction" in r]
    acted = [f"{r.get('cov_fraction', r.get('clip_frac_high', 0)):.4f}" for r in steps if "loss" in r]
    acc = ", ".join(f"{100 * r['accuracy']:.1f}" for r in steps)
    out.append(f"| {name} | {rc} | {float(wall):.0f} | {len(steps)} | {loss} | "
               f"{sum(sel) / len(sel) if sel else float('nan'):.3f} | {', '.join(acted)} | {acc} |")
(d / "summary.md").write_text("\n".join(out) + "\n")
print("\n".join(out))
PY
