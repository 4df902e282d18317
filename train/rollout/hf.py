"""Rollouts with the policy itself: HF `generate`, n responses per prompt (`generate`; `HFRollout` is the same
behind the `train.rollout.RolloutBackend` interface, for the trainer).

Sampling is pure temperature sampling (top_k off, top_p from the config) from a fresh
GenerationConfig, so the checkpoint's own generation defaults (top_k=50, repetition penalty...) never
change the distribution the loss assumes. Each generate() call is seeded from (seed, step, round,
chunk), so a resumed run regenerates exactly what the killed one would have.
"""

from __future__ import annotations

import torch

from train.logprobs import autocast, prefix_cache, prompt_groups, sharing_pays
from train.rollout.layout import NonFinite, Rollout, assemble, eos_ids, left_pad, pad_id


def _finite_logits():
    """A generate() logits processor that stops on nan/inf instead of sampling from garbage."""
    from transformers import LogitsProcessor

    class Check(LogitsProcessor):
        def __call__(self, input_ids, scores):
            if not bool(torch.isfinite(scores).all()):  # -inf is legal (a banned token); nan/+inf are not
                if bool(torch.isnan(scores).any()) or bool((scores == float("inf")).any()):
                    raise NonFinite("non-finite logits during rollout")
            return scores

    return Check()


def _shared_prefill(model, ids: torch.Tensor, att: torch.Tensor, new_tokens: int, min_saving: float):
    """The key/value cache of all but each prompt's last token, computed once per distinct prompt.

    generate() then feeds only the last prompt token, so a group of G responses pays for one
    prefill instead of G. None when there is nothing to share.
    """
    which, first = prompt_groups(ids, att, ids.shape[1])
    if ids.shape[1] < 2 or not sharing_pays(ids.shape[0], first.numel(), ids.shape[1], new_tokens, min_saving):
        return None
    return prefix_cache(model, ids[:, :-1], att[:, :-1], which, first)[0]


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: list[list[int]],
    answers: list,
    *,
    group_size: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    batch_size: int,
    seed: int,
    prompt_sharing: float = 0.2,
    mixed_precision: str = "",
) -> Rollout:
    """`group_size` responses for each prompt; rows of one prompt are contiguous.

    `mixed_precision` ("bfloat16"/"float16") samples under torch.autocast, as the update computes.
    """
    from transformers import GenerationConfig

    device = next(model.parameters()).device
    eos = eos_ids(model, tokenizer)
    pad = pad_id(tokenizer, eos)
    gen_cfg = GenerationConfig(
        do_sample=True,
        temperature=temperature,
        top_p=top_p,
        top_k=0,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad,
        eos_token_id=eos,
    )
    rows = [p for p in prompts for _ in range(group_size)]
    ids, att = left_pad(rows, pad)
    P = ids.shape[1]
    was_training = model.training
    model.eval()
    responses = []
    for c, i in enumerate(range(0, len(rows), batch_size)):
        torch.manual_seed(seed * 1000 + c)
        chunk_ids, chunk_att = ids[i : i + batch_size].to(device), att[i : i + batch_size].to(device)
        with autocast(device.type, mixed_precision):
            cache = _shared_prefill(model, chunk_ids, chunk_att, max_new_tokens, prompt_sharing)
            out = model.generate(
                input_ids=chunk_ids,
                attention_mask=chunk_att,
                past_key_values=cache,
                generation_config=gen_cfg,
                logits_processor=[_finite_logits()],
            )
        responses.extend(out[:, P:].cpu())
    model.train(was_training)
    return assemble(ids, att, responses, answers, group_size, pad=pad, eos=eos, tokenizer=tokenizer)


class HFRollout:
    """Backend "hf" as a `train.rollout.RolloutBackend`: `generate` above with the policy `model` itself."""

    def __init__(self, model, tokenizer, *, batch_size: int, prompt_sharing: float = 0.2, mixed_precision: str = ""):
        """`batch_size`: sequences per generate() call; `prompt_sharing`, `mixed_precision`: as `generate`."""
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.prompt_sharing, self.mixed_precision = batch_size, prompt_sharing, mixed_precision

    def generate(
        self,
        prompts: list[list[int]],
        answers: list,
        *,
        group_size: int,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        seed: int,
    ) -> Rollout:
        return generate(
            self.model,
            self.tokenizer,
            prompts,
            answers,
            group_size=group_size,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            batch_size=self.batch_size,
            seed=seed,
            prompt_sharing=self.prompt_sharing,
            mixed_precision=self.mixed_precision,
        )

    def sleep(self) -> None:
        """Nothing to free: the policy is the sampler."""

    def push(self, model) -> None:
        """Nothing to copy: the policy samples with its own weights, always current."""
        self.model = model
