"""Rollouts for the trainer, one module per backend behind one interface and one layout (as harness/backends
for eval):

- layout.py  `RolloutBackend`, the interface every backend implements (generate, sleep, push); the `Rollout`
             layout every backend returns; scoring, selection and concatenation of rollouts
- hf.py      `HFRollout` over `generate`: the policy's own HF generate (backend "hf")
- vllm.py    `VLLMRollout`: a vLLM engine in this process, weights pushed from memory (backend "vllm")

`train.rollout.generate`, `train.rollout.Rollout` etc. are the public names; vllm is imported only by vllm.py.
"""

from train.rollout.hf import HFRollout, generate
from train.rollout.layout import (
    BACKENDS,
    NonFinite,
    Rollout,
    RolloutBackend,
    assemble,
    concat,
    eos_ids,
    left_pad,
    pad_id,
    prompt_ids,
    score,
    truncated,
)

__all__ = [
    "BACKENDS",
    "HFRollout",
    "NonFinite",
    "Rollout",
    "RolloutBackend",
    "assemble",
    "concat",
    "eos_ids",
    "generate",
    "left_pad",
    "pad_id",
    "prompt_ids",
    "score",
    "truncated",
]
