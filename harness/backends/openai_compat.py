"""Any OpenAI-compatible endpoint; a fleet of `vllm serve` replicas is how one scales past a machine.

Requests are spread round-robin over the base URLs; a failed request (connection error, timeout, 429 or
5xx) is retried with exponential backoff on the next URL. What cannot be retried (HTTP 400 and the like, a
reply without choices, a server still gone after the retries) ends the run with one line quoting the server
(a UsageError); the samples that finished are stored. At most `concurrency` requests are in flight.
Only the standard library is used (urllib + threads), so this backend adds no dependency.

Two APIs (`api`):
- "completions": `POST /completions` with the request's prompt token ids as the prompt (vLLM accepts a list
  of ids), so the server samples from exactly the ids the offline backends build (`tasks.prompts`, the
  run's template switches included). A server that reports the prompt ids it used (vLLM does, with
  `return_token_ids`) is checked: other ids end the run with one line. Continuing from given ids (a forced
  answer: prompt + the first B response ids + a forced prefix) works here and only here.
- "chat": `POST /chat/completions` with the request's messages (and `chat_template_kwargs` when set); the
  server applies its chat template. Before sending, each request's prompt ids are checked to be the
  checkpoint's chat template around its messages: ids that are not (a continuation, or template switches
  this sampler was not given) cannot be sent through chat and are refused with one line. When the server
  reports the prompt ids it rendered and they differ from ours, `close()` says for how many samples.
- "auto" (default): completions when the checkpoint's tokenizer has no chat template (a base model), else
  chat.

Reasoning returned apart from the content (`reasoning_content`, or `reasoning`: `vllm serve
--reasoning-parser ...`, DeepSeek's API and others) is stored as exactly

    "<think>" + reasoning + "</think>" + content

so the checker, the budgets, the viewer and entropy see the chain. The `</think>` is left out when the
thought did not close: no content came after it and the returned ids hold no `</think>` (without ids: no
content, and the reply was cut at max_tokens). A reply without reasoning is stored as its content, unchanged.

Token ids: budgets need the generated token ids. We ask for them with vLLM's `return_token_ids`
extension; they are the model's own tokens, thought included, so counts and budget cuts are exact. A server
that does not return them gets the stored text (thought included) re-tokenized with the checkpoint
tokenizer: that can differ from the sampled tokens at a few boundaries (and by the `<think>` the prompt may
have opened), so token counts and the cuts at smaller budgets are approximate. `close()` says so in one
line, with the re-tokenized total beside the server's `usage.completion_tokens`. Each request carries its
own `seed`.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from harness.backends import Request, Sample, SamplingParams
from harness.errors import UsageError

RETRYABLE_HTTP = {408, 409, 429, 500, 502, 503, 504}
APIS = ("chat", "completions", "auto")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
NEEDS_COMPLETIONS = "forcing an answer needs --api completions on the openai backend"


def served_models(base_url: str, *, timeout: float = 10.0, api_key: str | None = None) -> dict[str, int | None]:
    """{model id: context length if the server says (vLLM does)}; UsageError when the server is unreachable."""
    url = base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(_request(url, None, api_key), timeout=timeout) as resp:
            return {m["id"]: m.get("max_model_len") for m in json.load(resp).get("data", [])}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"server {base_url} is unreachable: {reason}") from None


def resolve_api(api: str, tokenizer) -> str:
    """ "chat" or "completions" for `api` in APIS and this checkpoint tokenizer; UsageError when it cannot work."""
    if api not in APIS:
        raise UsageError(f"api must be one of {', '.join(APIS)} (got {api!r})")
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if api == "auto":
        return "chat" if has_template else "completions"
    if api == "chat" and not has_template:
        raise UsageError(
            "the checkpoint's tokenizer has no chat template (a base model), so the chat API has none to apply: "
            "use --api completions (or auto), which sends the prompt token ids"
        )
    return api


def with_reasoning(reasoning: str | None, content: str | None, closed: bool) -> str:
    """The stored text of a reply: "<think>" + reasoning + "</think>" + content when the server returned the
    reasoning apart (the `</think>` only when the thought `closed`), else the content."""
    if reasoning is None:
        return content or ""
    return THINK_OPEN + reasoning + (THINK_CLOSE if closed else "") + (content or "")


@dataclass(frozen=True)
class _Reply:
    sample: Sample
    retokenized: bool  # the server sent no token ids
    usage_tokens: int | None  # the server's usage.completion_tokens
    prompt_match: bool | None  # the server's prompt ids equal the request's (None: it did not say)


class OpenAISampler:
    name = "openai"

    def __init__(
        self,
        *,
        base_urls: list[str],
        model: str,
        tokenizer,
        api: str = "auto",
        chat_template_kwargs: dict | None = None,
        concurrency: int = 64,
        retries: int = 5,
        timeout: float = 3600.0,
        api_key: str | None = None,
    ):
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.model = model
        self.tokenizer = tokenizer
        self.api = resolve_api(api, tokenizer)
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.concurrency = concurrency
        self.retries = retries
        self.timeout = timeout
        self.api_key = api_key
        self._rendered: dict[str, tuple[int, ...]] = {}  # chat: messages (JSON) -> the ids they render to
        # What close() reports, counted on the caller's thread.
        self.samples = 0
        self.retokenized = 0  # samples whose ids came from re-tokenizing the text
        self.retokenized_tokens = 0
        self.retokenized_usage: int | None = 0  # the server's usage.completion_tokens for those (None: not said)
        self.prompts_confirmed = 0  # the server reported the prompt ids it sampled from, equal to the request's
        self.prompts_differ = 0  # chat: the server's rendering differs from the request's prompt ids

    @property
    def sends_prompt_ids(self) -> bool:
        """The server samples from the request's prompt ids as given (so it can continue a response)."""
        return self.api == "completions"

    def sample(self, requests: list[Request], params: SamplingParams) -> Iterator[tuple[Request, Sample]]:
        if self.api == "chat":
            for r in requests:  # before anything is sent
                self._check_chat_prompt(r)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            todo = iter(enumerate(requests))
            running = {}
            for i, r in todo:  # fill the window
                running[pool.submit(self._one, r, params, i)] = r
                if len(running) >= self.concurrency:
                    break
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    r = running.pop(fut)
                    reply = fut.result()
                    self._count(reply)
                    yield r, reply.sample
                    nxt = next(todo, None)
                    if nxt is not None:
                        running[pool.submit(self._one, nxt[1], params, nxt[0])] = nxt[1]

    def _check_chat_prompt(self, r: Request) -> None:
        """Chat sends messages, not ids: the request's ids must be what its messages render to."""
        from tasks.prompts import PromptSwitches, prompt_ids

        if not r.messages:
            raise UsageError(
                f"the openai backend's chat API sends messages, and request {r.key} has only prompt ids (a response "
                f"to continue): {NEEDS_COMPLETIONS}, which sends the ids"
            )
        key = json.dumps(list(r.messages), sort_keys=True)
        if key not in self._rendered:
            try:
                ids = prompt_ids(self.tokenizer, r.messages, PromptSwitches(None, self.chat_template_kwargs))
            except Exception as exc:  # noqa: BLE001 (TaskError, or the template's own jinja error: one line)
                why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise UsageError(f"the chat API cannot render request {r.key}'s messages ({why})") from None
            self._rendered[key] = tuple(ids)
        if self._rendered[key] != tuple(r.prompt_ids):
            kwargs = f" with chat template kwargs {self.chat_template_kwargs}" if self.chat_template_kwargs else ""
            raise UsageError(
                f"the openai backend's chat API sends messages, and request {r.key}'s prompt ids are not the chat "
                f"template around its messages{kwargs} (a response to continue, or template switches the sampler "
                f"was not given): {NEEDS_COMPLETIONS}, which sends the ids"
            )

    def _count(self, reply: _Reply) -> None:
        self.samples += 1
        if reply.retokenized:
            self.retokenized += 1
            self.retokenized_tokens += len(reply.sample.token_ids)
            if reply.usage_tokens is None or self.retokenized_usage is None:
                self.retokenized_usage = None
            else:
                self.retokenized_usage += reply.usage_tokens
        if reply.prompt_match is True:
            self.prompts_confirmed += 1
        elif reply.prompt_match is False:
            self.prompts_differ += 1

    def _body(self, r: Request, params: SamplingParams) -> tuple[str, dict]:
        body = {
            "model": self.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": r.seed,
            "n": 1,
            "return_token_ids": True,
        }
        if params.stop:
            body["stop"] = list(params.stop)
            body["include_stop_str_in_output"] = True  # vLLM's servers: the text keeps it, as the ids do
        if self.api == "completions":
            return "/completions", {**body, "prompt": list(r.prompt_ids)}
        body["messages"] = list(r.messages)
        if self.chat_template_kwargs:
            body["chat_template_kwargs"] = self.chat_template_kwargs
        return "/chat/completions", body

    def _one(self, r: Request, params: SamplingParams, i: int) -> _Reply:
        path, body = self._body(r, params)
        data = json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            url = self.base_urls[(i + attempt) % len(self.base_urls)] + path
            try:
                with urllib.request.urlopen(_request(url, data, self.api_key), timeout=self.timeout) as resp:
                    payload = resp.read()
            except urllib.error.HTTPError as exc:
                if exc.code not in RETRYABLE_HTTP or attempt == self.retries:
                    raise UsageError(
                        f"server {url} answered HTTP {exc.code}: {_server_message(exc)} (finished samples are kept)"
                    ) from None
            except (urllib.error.URLError, OSError) as exc:
                if attempt == self.retries:
                    raise UsageError(
                        f"server {url} stopped answering ({getattr(exc, 'reason', exc)}) after "
                        f"{self.retries + 1} attempts; finished samples are kept, rerun to resume"
                    ) from None
            else:
                return self._parse(payload, url, r)
            time.sleep(min(30.0, 0.5 * 2**attempt))
        raise AssertionError("unreachable")

    def _parse(self, raw: bytes, url: str, r: Request) -> _Reply:
        chat = self.api == "chat"
        where = "choices[0].message" if chat else "choices[0].text"
        excerpt = raw[:200].decode(errors="replace").replace("\n", " ")
        try:
            payload = json.loads(raw)
            choice = payload["choices"][0]
            part = choice["message"] if chat else choice
            content = part.get("content") if chat else part["text"]
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise UsageError(f"server {url} sent a reply without {where}: {excerpt!r}") from None
        reasoning = part.get("reasoning_content")
        reasoning = part.get("reasoning") if reasoning is None else reasoning
        ids = choice.get("token_ids")
        served_prompt = (payload if chat else choice).get("prompt_token_ids")
        if served_prompt is None and not chat:
            served_prompt = payload.get("prompt_token_ids")
        usage = payload.get("usage")
        usage = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if not all(v is None or isinstance(v, str) for v in (content, reasoning)) or not all(
            v is None or (isinstance(v, list) and all(isinstance(t, int) for t in v)) for v in (ids, served_prompt)
        ):
            raise UsageError(
                f"server {url} sent a reply whose {where} text, reasoning or token ids are malformed: {excerpt!r}"
            )
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        closed = bool(content)  # the thought closed: content came after it, or the model's ids hold `</think>`
        if reasoning is not None and not closed:
            if ids is not None:
                closed = THINK_CLOSE in self.tokenizer.decode(ids, skip_special_tokens=False)
            else:  # no ids to look at: a reply that ended by itself ended its thought; one cut at max_tokens did not
                closed = finish != "length"
        text = with_reasoning(reasoning, content, closed)
        prompt_match = None if served_prompt is None else served_prompt == list(r.prompt_ids)
        if prompt_match is False and not chat:
            raise UsageError(
                f"server {url} did not sample from the prompt ids sent: it reports {len(served_prompt)} prompt "
                f"tokens for the {len(r.prompt_ids)} sent (request {r.key}); its samples cannot be compared"
            )
        retokenized = ids is None
        if retokenized:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        usage = usage if isinstance(usage, int) else None
        return _Reply(Sample(text, tuple(ids), finish), retokenized, usage, prompt_match)

    def close(self) -> None:
        if self.retokenized:
            server = (
                "the server reported no usage.completion_tokens"
                if self.retokenized_usage is None
                else f"the server's usage.completion_tokens: {self.retokenized_usage}"
            )
            print(
                f"note: the server returned no token ids for {self.retokenized} of {self.samples} sample(s); their "
                "ids are the checkpoint tokenizer's re-tokenization of the stored text (thought included), so "
                f"their token counts and the cuts at smaller budgets are approximate (re-tokenized: "
                f"{self.retokenized_tokens} tokens; {server})",
                file=sys.stderr,
            )
        if self.prompts_differ:
            print(
                f"warning: for {self.prompts_differ} of {self.samples} sample(s) the server's rendering of the chat "
                "prompt differs from the prompt ids the offline backends build (tasks.prompts); --api completions "
                "sends those exact ids",
                file=sys.stderr,
            )


def _server_message(exc: urllib.error.HTTPError) -> str:
    """The server's own explanation: OpenAI-style {"error": {"message": ...}}, {"message": ...}, or the body."""
    try:
        body = exc.read().decode(errors="replace")
    except OSError:
        body = ""
    try:
        obj = json.loads(body)
        err = obj.get("error", obj) if isinstance(obj, dict) else obj
        message = err.get("message") if isinstance(err, dict) else err
        if isinstance(message, str) and message:
            body = message
    except ValueError:
        pass
    return " ".join(body.split())[:300] or exc.reason or "no message"


def _request(url: str, data: bytes | None, api_key: str | None) -> urllib.request.Request:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return urllib.request.Request(url, data=data, headers=headers)
