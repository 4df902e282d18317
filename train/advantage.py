"""Group-relative advantages (GRPO/DAPO): each response is scored against its prompt's group.

A_i = (r_i - mean(r_group)) / (std(r_group) + eps) with normalize_std=True (GRPO, DAPO, the paper),
or r_i - mean(r_group) without the std (Dr. GRPO's fix for its difficulty bias). Responses of one
prompt are contiguous: rewards `[num_prompts * group_size]`, as rollouts are laid out.
"""

import torch


def group_advantages(
    rewards: torch.Tensor, group_size: int, *, normalize_std: bool = True, eps: float = 1e-6
) -> torch.Tensor:
    """Per-response advantages `[B]` from rewards `[B]`, B a multiple of group_size."""
    r = rewards.float().reshape(-1, group_size)
    centred = r - r.mean(dim=1, keepdim=True)
    if normalize_std:
        std = r.std(dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(r[:, :1])
        centred = centred / (std + eps)
    return centred.reshape(rewards.shape)


def informative_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """DAPO dynamic sampling: True for prompts whose responses' rewards are not all equal.

    A group with all-equal rewards has zero advantage everywhere and only dilutes the batch.
    """
    r = rewards.reshape(-1, group_size)
    return (r != r[:, :1]).any(dim=1)
