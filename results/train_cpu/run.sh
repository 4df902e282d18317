#!/bin/bash
# Masked (rho 0.2) then unmasked (rho 1.0), same seed, one after the other; wall and CPU time per run.

cd "$(dirname "$0")/../.."
for rho in 0.2 1.0; do
  out=runs/train_cpu/rho$rho
  rm -rf "$out"
  /usr/bin/time -f "rho=$rho wall_s=%e user_s=%U sys_s=%S maxrss_kb=%M" -a -o results/train_cpu/time.txt \
    timeout 840 harness train --config train/configs/cpu-curve.yaml --rho $rho --out "$out" > results/train_cpu/rho$rho.out 2>&1
  cp "$out/log.jsonl" results/train_cpu/log_rho$rho.jsonl
done
