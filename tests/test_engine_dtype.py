"""The dtype the vLLM backend runs in on a CPU, and what prepare-model saves: one decision
(harness.backends.vllm_offline.cpu_engine_dtype), read from the CPU's own flags."""

from __future__ import annotations

import json

from harness.backends.vllm_offline import cpu_engine_dtype, cpu_has_native_bf16, engine_dtype
from harness.commands import prepare_model

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx avx2 fma\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def test_native_bf16_is_read_from_the_flags():
    assert not cpu_has_native_bf16(AVX2_ONLY)
    assert cpu_has_native_bf16(SAPPHIRE)
    assert cpu_has_native_bf16(GRAVITON3)
    assert not cpu_has_native_bf16("")
    # a flag that only contains the name is not the flag
    assert not cpu_has_native_bf16("flags\t: avx512f xbf16y\n")


def test_auto_on_a_cpu_is_float32_without_native_bf16():
    assert cpu_engine_dtype(native_bf16=False) == "float32"
    assert cpu_engine_dtype(native_bf16=True) == "bfloat16"
    assert engine_dtype("auto", on_cpu=False) == "auto"  # on a GPU vLLM decides
    assert engine_dtype("float16", on_cpu=True) == "float16"  # asked for: kept
    with open("/proc/cpuinfo") as f:
        here = cpu_has_native_bf16(f.read())
    assert engine_dtype("auto", on_cpu=True) == ("bfloat16" if here else "float32")


def test_a_checkpoint_in_another_dtype_is_not_current(tmp_path, monkeypatch):
    """A cached SmolLM2 built on another machine (another dtype), or by an older prepare-model, is built again."""
    monkeypatch.setattr(prepare_model, "weights_dtype", lambda: "float32")
    marker = tmp_path / prepare_model.MARKER
    marker.write_text(json.dumps({"format": prepare_model.FORMAT, "dtype": "float32"}))
    assert prepare_model.is_current(tmp_path)
    marker.write_text(json.dumps({"format": prepare_model.FORMAT, "dtype": "bfloat16"}))
    assert not prepare_model.is_current(tmp_path)
    marker.write_text(json.dumps({"format": prepare_model.FORMAT - 1, "dtype": "float32"}))
    assert not prepare_model.is_current(tmp_path)
    marker.write_text("not json")
    assert not prepare_model.is_current(tmp_path)
