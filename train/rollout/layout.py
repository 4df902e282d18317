"""The rollout layout every backend returns, the interface every backend implements (`RolloutBackend`), and
what the trainer does with a rollout (score, select, concat).

Layout of a `Rollout`: prompts left-padded to a common width P, responses right-padded to R; the
sequence tensor is [B, P + R]. `response_mask` covers each response up to and including its first
end-of-sequence token. The prompt and end-of-sequence rules are tasks.prompts', the ones eval uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from tasks import prompts as _prompts

BACKENDS = ("hf", "vllm")  # train.rollout.hf (the policy's own generate), train.rollout.vllm (a colocated engine)


class NonFinite(RuntimeError):
    """nan/inf in the policy's logits, loss or gradients: the run stops, the last checkpoint is kept."""


def prompt_ids(tokenizer, messages, switches: _prompts.PromptSwitches = _prompts.NO_SWITCHES) -> list[int]:
    """`tasks.prompts.prompt_ids` under the run's switches: the same rule every eval backend uses."""
    return _prompts.prompt_ids(tokenizer, messages, switches)


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
    cut: torch.Tensor = None  # [B] bool: the response has no end-of-sequence token (the length budget cut it)

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
            None if self.cut is None else self.cut[idx],
        )


class RolloutBackend(Protocol):
    """A rollout backend as the trainer uses it: `train.rollout.hf.HFRollout` (the policy's own generate) and
    `train.rollout.vllm.VLLMRollout` (a colocated vLLM engine). Backend-specific settings go to the constructor."""

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
        """`group_size` responses for each prompt (token ids) in the `Rollout` layout, rows of one prompt contiguous,
        reproducible from `seed`."""
        ...

    def sleep(self) -> None:
        """Free what the backend holds during the policy update (a no-op where it holds nothing)."""
        ...

    def push(self, model) -> None:
        """Sample from `model`'s current weights from the next `generate` on."""
        ...


def left_pad(rows: list[list[int]], pad: int):
    """Rows of token ids left-padded to one width: (ids, attention mask), both [B, width] long."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    att = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        att[i, width - len(r) :] = 1
    return ids, att


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
    `sampler_logprobs`: per response, the sampler's log-prob of each of its tokens (train.rollout.vllm).
    `train.rollout.hf.generate` and `train.rollout.vllm` both end here."""
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
        cut=_cut(resp, response_mask, eos),
    )


def _cut(resp: torch.Tensor, response_mask: torch.Tensor, eos: list[int]) -> torch.Tensor:
    """True where a response has no end-of-sequence token (it hit the length budget)."""
    return ~(torch.isin(resp, torch.tensor(eos)) & response_mask).any(-1)


def truncated(r: Rollout, eos: list[int]) -> torch.Tensor:
    """True where a response has no end-of-sequence token (it hit the length budget)."""
    return _cut(r.input_ids[:, r.prompt_width :], r.response_mask, eos)


def score(r: Rollout, *, mode: str, max_length: int, overlong_buffer: int, kind: str = "free") -> None:
    """Rewards from tasks.reward (the checker `harness eval` uses, with the rules of the answer `kind`, a response
    cut by the length budget graded as cut) plus DAPO's overlong shaping."""
    from tasks import reward

    base = reward.score_batch(r.texts, r.answers, mode=mode, kind=kind, truncated=r.cut.tolist())
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
        torch.cat([p.cut for p in parts]),
    )
