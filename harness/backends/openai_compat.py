"""Any OpenAI-compatible chat endpoint; a fleet of `vllm serve` replicas is how one scales past a machine.

Requests are spread round-robin over the base URLs; a failed request (connection error, timeout, 429 or
5xx) is retried with exponential backoff on the next URL. What cannot be retried (HTTP 400 and the like, a
reply without choices, a server still gone after the retries) ends the run with one line quoting the server
(a UsageError); the samples that finished are stored. At most `concurrency` requests are in flight.
Only the standard library is used (urllib + threads), so this backend adds no dependency.

Token ids: budgets need the generated token ids. We ask for them with vLLM's `return_token_ids`
extension; a server that ignores it gets its text re-tokenized with the checkpoint tokenizer, which can
differ from the sampled ids at a few token boundaries (counts and cuts are then approximate; `close()`
warns with the number of such samples). Each request carries its own `seed`.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from harness.backends import Request, Sample, SamplingParams
from harness.errors import UsageError

RETRYABLE_HTTP = {408, 409, 429, 500, 502, 503, 504}


def served_models(base_url: str, *, timeout: float = 10.0, api_key: str | None = None) -> dict[str, int | None]:
    """{model id: context length if the server says (vLLM does)}; UsageError when the server is unreachable."""
    url = base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(_request(url, None, api_key), timeout=timeout) as resp:
            return {m["id"]: m.get("max_model_len") for m in json.load(resp).get("data", [])}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"server {base_url} is unreachable: {reason}") from None


class OpenAISampler:
    name = "openai"

    def __init__(
        self,
        *,
        base_urls: list[str],
        model: str,
        tokenizer,
        concurrency: int = 64,
        retries: int = 5,
        timeout: float = 3600.0,
        api_key: str | None = None,
    ):
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.model = model
        self.tokenizer = tokenizer
        self.concurrency = concurrency
        self.retries = retries
        self.timeout = timeout
        self.api_key = api_key
        self.retokenized = 0  # samples whose ids came from re-tokenizing the text

    def sample(self, requests: list[Request], params: SamplingParams) -> Iterator[tuple[Request, Sample]]:
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
                    yield r, fut.result()
                    nxt = next(todo, None)
                    if nxt is not None:
                        running[pool.submit(self._one, nxt[1], params, nxt[0])] = nxt[1]

    def _one(self, r: Request, params: SamplingParams, i: int) -> Sample:
        body = {
            "model": self.model,
            "messages": list(r.messages),
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": r.seed,
            "n": 1,
            "return_token_ids": True,
        }
        data = json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            url = self.base_urls[(i + attempt) % len(self.base_urls)] + "/chat/completions"
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
                return self._parse(payload, url)
            time.sleep(min(30.0, 0.5 * 2**attempt))
        raise AssertionError("unreachable")

    def _parse(self, raw: bytes, url: str) -> Sample:
        try:
            payload = json.loads(raw)
            choice = payload["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            excerpt = raw[:200].decode(errors="replace").replace("\n", " ")
            raise UsageError(f"server {url} sent a reply without choices[0].message: {excerpt!r}") from None
        ids = choice.get("token_ids")
        if ids is None:
            self.retokenized += 1
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        reason = "length" if choice.get("finish_reason") == "length" else "stop"
        return Sample(text, tuple(ids), reason)

    def close(self) -> None:
        if self.retokenized:
            print(
                f"warning: the server returned no token ids for {self.retokenized} sample(s); their ids were "
                "re-tokenized from the text, so budget cuts on them are approximate",
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
