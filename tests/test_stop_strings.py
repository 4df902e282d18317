"""`SamplingParams.stop` on the hf backend: a sample ends with the token that completes a stop string (kept), and
is otherwise the same as without the stop (same seed). The stop strings are taken from the model's own unstopped output, so
the test does not depend on what a random tiny model happens to write."""

from __future__ import annotations

import pytest

from harness.backends import Request, SamplingParams, load_tokenizer
from tests.test_eval import _build_tiny


@pytest.fixture(scope="module")
def sampler(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir: the tiny model's corpus)
    from harness.backends.hf import HFSampler

    ckpt = _build_tiny(tmp_path_factory.mktemp("tiny-stop"))
    tok = load_tokenizer(ckpt)
    s = HFSampler(str(ckpt), tok)
    yield s, tok
    s.close()


def _one(s, prompt, params) -> tuple[int, ...]:
    ((_, sample),) = list(s.sample([Request("k", prompt, (), 0)], params))
    return sample.token_ids


def test_a_sample_ends_with_the_token_that_completes_a_stop_string(sampler):
    s, tok = sampler
    prompt = tuple(tok("What is 2 + 3?", add_special_tokens=False)["input_ids"])
    free = _one(s, prompt, SamplingParams(1.0, 1.0, 12))
    assert len(free) >= 6
    checked = 0
    for at in range(2, len(free) - 1):
        text = tok.decode(free[: at + 1], skip_special_tokens=True)
        before = tok.decode(free[:at], skip_special_tokens=True)
        if len(text) <= len(before) or text[len(before) - 1 :] in before:
            continue  # this token adds no text, or its text (with the char before) came earlier
        stop = text[len(before) - 1 :]  # spans the last char before this token and its first: completed by it
        stopped = _one(s, prompt, SamplingParams(1.0, 1.0, 12, stop=(stop,)))
        assert stopped == free[: at + 1], (stop, stopped, free)
        checked += 1
    assert checked
    assert _one(s, prompt, SamplingParams(1.0, 1.0, 12, stop=("\x00never",))) == free  # not met: unchanged


def test_the_openai_backend_sends_the_stop_strings(sampler):
    """The server is asked to stop there and keep the stop string in the text (vLLM's include_stop_str_in_output),
    as the ids keep its token; without stop strings the request carries neither."""
    from harness.backends.openai_compat import OpenAISampler

    _, tok = sampler
    s = OpenAISampler(base_urls=["http://127.0.0.1:9"], model="m", tokenizer=tok, api="completions")
    request = Request("k", (1, 2, 3), (), 0)
    _, body = s._body(request, SamplingParams(0.0, 1.0, 8, stop=("\n",)))
    assert body["stop"] == ["\n"] and body["include_stop_str_in_output"] is True
    _, body = s._body(request, SamplingParams(0.0, 1.0, 8))
    assert "stop" not in body and "include_stop_str_in_output" not in body
