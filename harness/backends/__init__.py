"""Samplers: one tiny interface in front of vLLM, transformers and OpenAI-compatible servers.

A sampler takes `Request`s (prompt token ids, the chat messages they came from, a seed) and yields
`(request, Sample)` pairs *as each sample finishes*, so the caller can store samples while the rest are
still generating. A `Sample` carries the token ids because budgets are scored by cutting them.

    sampler = make_sampler("vllm", ckpt, ...)
    for request, sample in sampler.sample(requests, params): ...
    sampler.close()

Prompts are built once, here, with the checkpoint's own chat template (`chat_prompt_ids`), so the
`vllm` and `hf` backends see the same tokens; the `openai` backend sends the messages and lets the
server apply the same template.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    top_p: float
    max_tokens: int  # the generation budget: the largest budget scored
    # A sample also ends with the token that completes one of these strings (the token is kept, ids and text).
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    key: Any  # opaque to the sampler; comes back with the sample
    prompt_ids: tuple[int, ...]
    messages: tuple[dict, ...] = field(compare=False)
    seed: int = 0


@dataclass(frozen=True)
class Sample:
    text: str
    token_ids: tuple[int, ...]
    finish_reason: str  # "stop" (end of sequence or a stop string) or "length" (hit max_tokens)


class Sampler(Protocol):
    name: str

    def sample(self, requests: list[Request], params: SamplingParams) -> Iterator[tuple[Request, Sample]]: ...

    def close(self) -> None: ...


BACKENDS = ("vllm", "hf", "openai")
LOCAL_BACKENDS = ("vllm", "hf")  # those that load the checkpoint in this process (not a server)


def make_sampler(backend: str, ckpt: str, tokenizer, **options) -> Sampler:
    """Build the named sampler. Heavy imports happen here, not at module import."""
    if backend == "vllm":
        from harness.backends.vllm_offline import VLLMSampler

        return VLLMSampler(ckpt, **options)
    if backend == "hf":
        from harness.backends.hf import HFSampler

        return HFSampler(ckpt, tokenizer, **options)
    if backend == "openai":
        from harness.backends.openai_compat import OpenAISampler

        return OpenAISampler(tokenizer=tokenizer, **options)
    raise ValueError(f"unknown backend {backend!r}")


def load_tokenizer(ckpt) -> Any:
    """The checkpoint's own tokenizer (transformers), or a UsageError naming the checkpoint."""
    from transformers import AutoTokenizer

    from harness.errors import UsageError

    try:
        return AutoTokenizer.from_pretrained(str(ckpt))
    except (OSError, ValueError) as exc:
        raise UsageError(f"checkpoint {ckpt}: cannot load its tokenizer ({str(exc).splitlines()[0]})") from None


def chat_prompt_ids(tokenizer, user_message: str, switches=None) -> tuple[int, ...]:
    """The token ids the model sees: `tasks.prompts.user_prompt_ids` under the run's `switches`
    (tasks.prompts.PromptSwitches; None: none), the rule training uses too."""
    from tasks.prompts import NO_SWITCHES, user_prompt_ids

    return tuple(user_prompt_ids(tokenizer, user_message, switches or NO_SWITCHES))
