"""transformers, for small models and machines without vLLM.

`generate` cannot seed each row of a batch, so this is a plain batched sampling loop (KV cache,
temperature, top-p) with one `torch.Generator` per sample: a sample depends on its seed only, not on
which other samples share its batch, and a rerun after a crash reproduces it. Requests are batched in
groups of equal prompt length (the n samples of one problem), so no padding is ever needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

from harness.backends import Request, Sample, SamplingParams
from tasks.prompts import eos_ids


class HFSampler:
    name = "hf"

    def __init__(self, ckpt: str, tokenizer, *, batch_size: int = 16, dtype: str = "auto", device: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = torch.float32 if self.device == "cpu" and dtype == "auto" else dtype
        self.model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch_dtype).to(self.device).eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.eos_ids = set(eos_ids(self.model.generation_config, tokenizer))

    def sample(self, requests: list[Request], params: SamplingParams) -> Iterator[tuple[Request, Sample]]:
        ordered = sorted(requests, key=lambda r: r.prompt_ids)
        for _, same_prompt in groupby(ordered, key=lambda r: r.prompt_ids):
            same_prompt = list(same_prompt)
            for i in range(0, len(same_prompt), self.batch_size):
                yield from self._batch(same_prompt[i : i + self.batch_size], params)

    def _batch(self, batch: list[Request], params: SamplingParams) -> Iterator[tuple[Request, Sample]]:
        torch = self.torch
        gens = [torch.Generator(device=self.device).manual_seed(r.seed) for r in batch]
        input_ids = torch.tensor([list(r.prompt_ids) for r in batch], device=self.device)
        out: list[list[int]] = [[] for _ in batch]
        done = [False] * len(batch)
        seen = [0] * len(batch)  # per row: characters of its text before the last token (`_stopped`)
        past = None
        with torch.inference_mode():
            for _ in range(params.max_tokens):
                res = self.model(input_ids=input_ids, past_key_values=past, use_cache=True)
                past = res.past_key_values
                logits = res.logits[:, -1, :].float()
                next_ids = []
                for row, g in enumerate(gens):
                    next_ids.append(_sample_row(torch, logits[row], params, g))
                for row, tok in enumerate(next_ids):
                    if not done[row]:
                        out[row].append(tok)
                        done[row] = tok in self.eos_ids or self._stopped(out[row], params.stop, seen, row)
                if all(done):
                    break
                input_ids = torch.tensor([[t] for t in next_ids], device=self.device)
        for r, ids, finished in zip(batch, out, done):
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            yield r, Sample(text, tuple(ids), "stop" if finished else "length")

    def _stopped(self, ids: list[int], stop: tuple[str, ...], seen: list[int], row: int) -> bool:
        """Did the last token complete a stop string (one that ends past the `seen[row]` characters of text the
        earlier tokens made)? Updates `seen[row]`."""
        if not stop:
            return False
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        before, seen[row] = seen[row], len(text)
        return any(s in text[max(0, before - len(s) + 1) :] for s in stop)

    def close(self) -> None:
        del self.model


def _sample_row(torch, logits, params: SamplingParams, gen) -> int:
    """One token: greedy at temperature 0, else temperature + nucleus (top-p) sampling."""
    if params.temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_p, order = probs.sort(descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < params.top_p  # smallest prefix whose mass reaches top_p
        sorted_p = sorted_p * keep
        return int(order[torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=gen)])
    return int(torch.multinomial(probs, 1, generator=gen))
