"""Per-token log-probs and entropies of sampled responses, each prompt run once per group.

GRPO samples G responses per prompt, so a micro-batch holds every prompt up to G times. Running a
prompt once and handing its key/value cache (still inside the autograd graph) to its G responses gives
the same log-probs, entropies and gradients with fewer tokens through the decoder: at 4 prompts x 8
responses with 69-token prompts and 32-token responses, 1,300 tokens instead of 3,232. The saving is
the prompt share of the sequence, so it fades with long responses (~1 % at 200-token prompts and
20k-token responses), and below a threshold (`prompt_sharing`) the plain path runs instead; the numbers
computed do not change either way (tests/test_train_logprobs.py).

Rows of one prompt must be contiguous (they are: train.rollout keeps each group together); a prompt
that recurs elsewhere in the micro-batch is simply run again.
"""

from __future__ import annotations

import contextlib

import torch

from train.entropy import fused_logprobs_and_entropy, logprobs_and_entropy


def sharing_pays(n_rows: int, n_prompts: int, prompt_width: int, response_width: int, min_saving: float) -> bool:
    """Share when it saves at least `min_saving` of the decoder's tokens.

    The shared path costs a second pass through the decoder and attention with an explicit mask, which on
    a GPU outweighs a small saving: results/train_gpu.md measured a slower update at a 4 % saving (8 x 64
    responses, 25-token prompts, 512-token responses), where the CPU benchmark gained 2.4x at 60 %.
    """
    saved = (n_rows - n_prompts) * prompt_width
    return n_prompts < n_rows and saved >= min_saving * n_rows * (prompt_width + response_width)


def prompt_groups(input_ids: torch.Tensor, attention_mask: torch.Tensor, prompt_width: int):
    """(which, first): each row's index among the runs of identical prompts, and each run's first row."""
    P = prompt_width
    same = ((input_ids[1:, :P] == input_ids[:-1, :P]) & (attention_mask[1:, :P] == attention_mask[:-1, :P])).all(-1)
    new = torch.cat([torch.ones(1, dtype=torch.bool, device=input_ids.device), ~same])
    return new.long().cumsum(0) - 1, new.nonzero().squeeze(1)


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Left padding aside, positions count from 0 at each row's first real token."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def prefix_cache(model, input_ids, attention_mask, which, first):
    """Run the distinct prompts once; return (cache with one row per input row, last hidden states)."""
    out = model.base_model(
        input_ids=input_ids[first],
        attention_mask=attention_mask[first],
        position_ids=positions(attention_mask[first]),
        use_cache=True,
    )
    cache = out.past_key_values
    cache.batch_select_indices(which)
    return cache, out.last_hidden_state


def autocast(device_type: str, dtype: str = ""):
    """Mixed precision for the decoder: torch.autocast in `dtype` ("bfloat16"/"float16"), or nothing ("").

    Weights, gradients and the optimizer stay in the model's dtype; the lm_head + entropy kernel gets the
    hidden states cast back to the head's dtype, so log-probs and entropies are computed as without it.
    """
    if not dtype:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=getattr(torch, dtype))


def _fused_head(model) -> bool:
    head = model.get_output_embeddings()
    return getattr(head, "bias", None) is None and not getattr(model.config, "final_logit_softcapping", None)


def token_logprobs(
    model,
    input_ids,
    attention_mask,
    prompt_width,
    labels,
    temperature,
    *,
    prompt_sharing: float = 0.2,
    mixed_precision: str = "",
):
    """log p and entropy (at T) of `labels` [b, R] given the sequences [b, P + R]; [b, R] float32 each.

    The decoder's last hidden states meet the lm_head inside the fused kernel, so the [b, R, V]
    logits never exist; models with an lm_head bias or logit soft-capping take the logits path (and
    no prompt sharing). Prompts are shared when that saves >= `prompt_sharing` of the tokens (0: whenever
    a prompt repeats; 1: never). Gradient checkpointing turns the key/value cache off, so it also turns
    sharing off. `mixed_precision` runs the decoder under `autocast` (above).
    """
    P = prompt_width
    amp = autocast(input_ids.device.type, mixed_precision)
    if not _fused_head(model):
        with amp:
            logits = model(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=positions(attention_mask)
            ).logits
        return logprobs_and_entropy(logits[:, P - 1 : -1], labels, temperature=temperature)
    head = model.get_output_embeddings()
    which, first = prompt_groups(input_ids, attention_mask, P)
    share = sharing_pays(input_ids.shape[0], first.numel(), P, input_ids.shape[1] - P, prompt_sharing)
    with amp:
        if share and not model.is_gradient_checkpointing:
            cache, h_prompt = prefix_cache(model, input_ids[:, :P], attention_mask[:, :P], which, first)
            h_resp = model.base_model(
                input_ids=input_ids[:, P:],
                attention_mask=attention_mask,
                position_ids=positions(attention_mask)[:, P:],
                past_key_values=cache,
                use_cache=True,
            ).last_hidden_state
            h = torch.cat([h_prompt[which, -1:], h_resp[:, :-1]], 1)
        else:
            h = model.base_model(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=positions(attention_mask)
            ).last_hidden_state[:, P - 1 : -1]
    return fused_logprobs_and_entropy(h.to(head.weight.dtype), head.weight, labels, temperature=temperature)
