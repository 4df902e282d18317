"""Rollouts for the trainer, one module per backend behind one layout (as harness/backends for eval):

- layout.py  the `Rollout` layout every backend returns; scoring, selection and concatenation of rollouts
- hf.py      `generate`: the policy's own HF generate (backend "hf")
- vllm.py    `VLLMRollout`: a vLLM engine in this process, weights pushed from memory (backend "vllm")

`train.rollout.generate`, `train.rollout.Rollout` etc. are the public names; vllm is imported only by vllm.py.
"""

from train.rollout.hf import generate
from train.rollout.layout import (
    BACKENDS,
    NonFinite,
    Rollout,
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
    "NonFinite",
    "Rollout",
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
