"""Rollouts with the policy itself: HF `generate`, n responses per prompt, then rewards.

Sampling is pure temperature sampling (top_k off, top_p from the config) from a fresh
GenerationConfig, so the checkpoint's own generation defaults (top_k=50, repetition penalty...) never
change the distribution the loss assumes. Each generate() call is seeded from (seed, step, round,
chunk), so a resumed run regenerates exactly what the killed one would have.

Layout of a `Rollout`: prompts left-padded to a common width P, responses right-padded to R; the
sequence tensor is [B, P + R]. `response_mask` covers each response up to and including its first
end-of-sequence token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tasks import prompts as _prompts
from train.logprobs import autocast, prefix_cache, prompt_groups, sharing_pays

BACKENDS = ("hf", "vllm")  # hf: the policy's own generate (this module); vllm: train.rollout_vllm


class NonFinite(RuntimeError):
    """nan/inf in the policy's logits, loss or gradients: the run stops, the last checkpoint is kept."""


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


def prompt_ids(tokenizer, messages) -> list[int]:
    """`tasks.prompts.prompt_ids`: the same rule every eval backend uses."""
    return _prompts.prompt_ids(tokenizer, messages)


def eos_ids(model, tokenizer) -> list[int]:
    """`tasks.prompts.eos_ids` of the model's generation config: the same rule eval uses."""
    return _prompts.eos_ids(model.generation_config, tokenizer)


def pad_id(tokenizer, eos: list[int]) -> int:
    """The tokenizer's pad token, else the first end-of-sequence id (padding is masked out either way)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]


@dataclass
class Rollout:
    input_ids: torch.Tensor  # [B, P+R]
    attention_mask: torch.Tensor  # [B, P+R]
    prompt_width: int  # P
    response_mask: torch.Tensor  # [B, R] bool
    texts: list
    answers: list  # gold answer per sequence
    rewards: torch.Tensor = None  # [B] float
    correct: torch.Tensor = None  # [B] bool
    sampler_logprobs: torch.Tensor = None  # [B, R] float32: the sampler's log-probs of the response tokens
    # (backend vllm; 0 on padding); None when the policy itself sampled (HF backend: no mismatch to measure)

    @property
    def lengths(self) -> torch.Tensor:
        return self.response_mask.sum(-1)

    def select(self, rows: torch.Tensor) -> Rollout:
        idx = rows.nonzero().squeeze(1) if rows.dtype == torch.bool else rows
        pick = [int(i) for i in idx]
        return Rollout(
            self.input_ids[idx],
            self.attention_mask[idx],
            self.prompt_width,
            self.response_mask[idx],
            [self.texts[i] for i in pick],
            [self.answers[i] for i in pick],
            None if self.rewards is None else self.rewards[idx],
            None if self.correct is None else self.correct[idx],
            None if self.sampler_logprobs is None else self.sampler_logprobs[idx],
        )


def _left_pad(rows: list[list[int]], pad: int):
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    att = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        att[i, width - len(r) :] = 1
    return ids, att


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
    ids, att = _left_pad(rows, pad)
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


def assemble(
    ids: torch.Tensor,
    att: torch.Tensor,
    responses: list,
    answers: list,
    group_size: int,
    *,
    pad: int,
    eos: list[int],
    tokenizer,
    sampler_logprobs: list | None = None,
) -> Rollout:
    """The `Rollout` layout from left-padded prompt rows (`ids`, `att`: [B, P], prompt-major, group-minor)
    and one response per row (token ids, a list or 1-D tensor): responses right-padded with `pad` to
    R >= 1, `response_mask` up to and including the first eos, texts decoded from the masked tokens.
    `sampler_logprobs`: per response, the sampler's log-prob of each of its tokens (train.rollout_vllm).
    `generate` and `train.rollout_vllm` both end here."""
    R = max(1, max(len(r) for r in responses))
    resp = torch.full((len(responses), R), pad, dtype=torch.long)
    for i, r in enumerate(responses):
        resp[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    is_eos = torch.isin(resp, torch.tensor(eos)) if eos else torch.zeros_like(resp, dtype=torch.bool)
    filled = torch.tensor([len(r) for r in responses])[:, None] > torch.arange(R)[None]
    before_eos = (is_eos.long().cumsum(-1) - is_eos.long()) == 0  # up to and including the first eos
    response_mask = before_eos & filled
    texts = [tokenizer.decode(resp[i][response_mask[i]], skip_special_tokens=True) for i in range(len(responses))]
    lps = None
    if sampler_logprobs is not None:
        lps = torch.zeros(len(responses), R, dtype=torch.float32)
        for i, lp in enumerate(sampler_logprobs):
            if len(lp) != len(responses[i]):
                raise ValueError(f"response {i}: {len(responses[i])} tokens but {len(lp)} sampler log-probs")
            lps[i, : len(lp)] = torch.as_tensor(lp, dtype=torch.float32)
        lps = torch.where(response_mask, lps, 0.0)
    return Rollout(
        torch.cat([ids, resp], 1),
        torch.cat([att, response_mask.long()], 1),
        ids.shape[1],
        response_mask,
        texts,
        [a for a in answers for _ in range(group_size)],
        sampler_logprobs=lps,
    )


def truncated(r: Rollout, eos: list[int]) -> torch.Tensor:
    """True where a response has no end-of-sequence token (it hit the length budget)."""
    resp = r.input_ids[:, r.prompt_width :]
    has_eos = (torch.isin(resp, torch.tensor(eos)) & r.response_mask).any(-1)
    return ~has_eos


def score(r: Rollout, *, mode: str, max_length: int, overlong_buffer: int) -> None:
    """Rewards from tasks.reward (the checker `harness eval` uses) plus DAPO's overlong shaping."""
    from tasks import reward

    base = reward.score_batch(r.texts, r.answers, mode=mode)
    right = reward.MODES[mode][0]
    r.correct = torch.tensor([b == right for b in base])
    lengths = r.lengths.tolist()
    shaped = [
        b + (reward.overlong_penalty(n, max_length, overlong_buffer) if overlong_buffer else 0.0)
        for b, n in zip(base, lengths)
    ]
    r.rewards = torch.tensor(shaped, dtype=torch.float32)


def concat(parts: list[Rollout], pad: int) -> Rollout:
    """Join rollouts of different widths: prompts re-left-padded, responses re-right-padded."""
    P = max(p.prompt_width for p in parts)
    R = max(p.response_mask.shape[1] for p in parts)
    ids, att, masks = [], [], []
    for p in parts:
        lp, rp = P - p.prompt_width, R - p.response_mask.shape[1]
        ids.append(torch.nn.functional.pad(p.input_ids, (lp, rp), value=pad))
        att.append(torch.nn.functional.pad(p.attention_mask, (lp, rp), value=0))
        masks.append(torch.nn.functional.pad(p.response_mask, (0, rp), value=False))
    return Rollout(
        torch.cat(ids),
        torch.cat(att),
        P,
        torch.cat(masks),
        [t for p in parts for t in p.texts],
        [a for p in parts for a in p.answers],
        torch.cat([p.rewards for p in parts]),
        torch.cat([p.correct for p in parts]),
        None
        if any(p.sampler_logprobs is None for p in parts)
        else torch.cat(
            [torch.nn.functional.pad(p.sampler_logprobs, (0, R - p.sampler_logprobs.shape[1])) for p in parts]
        ),
    )
