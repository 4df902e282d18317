"""Alias kept for the old import path: the vLLM rollout backend is train/rollout/vllm.py."""

from train.rollout.vllm import VLLMRollout

__all__ = ["VLLMRollout"]
