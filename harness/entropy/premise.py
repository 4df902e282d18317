"""The paper's premise, checked on a base checkpoint before any compute is spent on an entropy mask.

Wang et al. (arXiv 2506.01939) train on the top-ρ entropy tokens because, in a reasoning model's chains of
thought, most tokens are near-deterministic and the high-entropy minority are the few real forks ("wait",
"however", "thus"). Whether a given base model writes such chains is measurable in minutes: sample it on the
training prompts at the run's temperature and response length, measure each token's entropy with the same
teacher-forced pass `harness entropy` uses (`measure.token_entropies`, no second implementation), and put
the distribution beside the paper's.

    check(ckpt, messages, temperature=..., max_tokens=...)  -> Premise (numbers, verdict, one plain line)
    numbers(entropies, texts, rho)                           -> the statistics (numpy only)
    verdict(numbers)                                         -> "yes" / "partly" / "no" and what follows

The thresholds (`SHAPE`) are stated once, in docs/DESIGN.md ("Reference facts"), with where they come from.
`harness entropy --premise` writes the report; `harness train` and `harness study` print `note(...)` for every
arm whose selection is by entropy, and never refuse to run on it. torch and transformers are imported inside
the functions that need them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from harness.entropy.stats import LOW, PAPER, forking_tokens, top_fraction

# The paper's shape (docs/DESIGN.md, "Reference facts"): at least half of the tokens below 0.01 nats (the
# paper: "over half", Qwen3-8B), and an 80th percentile of at most 1.0 nats (the paper: 0.672; the margin of
# about 1.5x is ours, for a few dozen responses on another task; the paper states none).
SHAPE = {"share_below_min": 0.5, "p80_max": 1.0}
PAPER_FORKING = ("wait", "however", "thus", "suppose", "since")
PERCENTILES = (50, 80, 95)


def numbers(entropies, texts: list[str], rho: float = 0.2, top: int = 20) -> dict:
    """The premise's statistics over a flat array of per-token entropies (nats) and each token's text.

    share of H < 0.01; the 50/80/95th percentiles (linear interpolation, numpy's default); the share of the
    entropy mass (sum of H) held by the top-ρ tokens (k = ceil(ρN), the authors' top-k; ρ itself for a flat
    distribution, where the mask is a random ρ); the `top` most frequent tokens among the top-ρ positions.
    """
    h = np.asarray(entropies, dtype=np.float64)
    if h.ndim != 1 or len(h) == 0:
        raise ValueError("numbers() needs a non-empty 1-D array of entropies")
    if len(texts) != len(h):
        raise ValueError(f"{len(texts)} token texts for {len(h)} entropies")
    sel = top_fraction(h, rho)
    total = float(h.sum())
    p = np.percentile(h, PERCENTILES)
    return {
        "tokens": int(len(h)),
        "rho": rho,
        "mean": float(h.mean()),
        "share_below_0.01": float((h < LOW).mean()),
        **{f"p{q}": float(v) for q, v in zip(PERCENTILES, p)},
        "top_mass_share": float(h[sel].sum() / total) if total > 0 else float("nan"),
        "top_threshold": float(h[sel].min()),
        "forking": forking_tokens(texts, h, sel, top),
    }


def verdict(n: dict) -> tuple[str, str]:
    """("yes" | "partly" | "no", one plain line): does the distribution have the paper's shape, and what follows
    for an entropy mask. Thresholds: `SHAPE` (docs/DESIGN.md)."""
    low_ok = n["share_below_0.01"] >= SHAPE["share_below_min"]
    p80_ok = n["p80"] <= SHAPE["p80_max"]
    rho = f"{100 * n['rho']:g} %"
    facts = (
        f"{100 * n['share_below_0.01']:.1f} % of tokens below 0.01 (paper: over half; shape: >= "
        f"{100 * SHAPE['share_below_min']:g} %), p80 {n['p80']:.3f} (paper {PAPER['p80']}; shape: <= "
        f"{SHAPE['p80_max']:.1f}), top {rho} hold {100 * n['top_mass_share']:.0f} % of the entropy mass"
    )
    if low_ok and p80_ok:
        return "yes", (
            f"The paper's shape: {facts}. The top {rho} are the few uncertain tokens among near-certain ones, so an "
            f"entropy mask selects what the paper meant it to; the paper's gains from it grow with model size (on par "
            f"with all tokens at 8B, better at 14B and 32B)."
        )
    if not low_ok and not p80_ok:
        return "no", (
            f"Not the paper's shape: {facts}. Uncertainty is spread over most tokens, so the top {rho} are the upper "
            f"end of a broad spread, not a few forks among near-certain tokens: the paper's reason for the mask does "
            f"not hold for this model and these prompts, and its gains should not be expected; compare an entropy "
            f"mask with all tokens and with the random-{rho} control before a long run."
        )
    return "partly", (
        f"Partly the paper's shape: {facts}. "
        + (
            "Most tokens are near-certain, but the upper tail is wide"
            if low_ok
            else "The tail is short, but few tokens are near-certain"
        )
        + f": the top {rho} mix forks with ordinary tokens; the paper's results are a weak guide for an entropy "
        f"mask here; compare it with all tokens and with the random-{rho} control before a long run."
    )


@dataclass
class Premise:
    """A premise check: its settings, numbers and verdict (JSON-able), and the samples it measured."""

    settings: dict
    numbers: dict
    shape: str
    line: str
    prompts: list = field(default_factory=list, repr=False)  # prompt ids per response
    responses: list = field(default_factory=list, repr=False)  # response token ids
    entropies: list = field(default_factory=list, repr=False)  # per response, float32 arrays

    def to_json(self) -> dict:
        return {"settings": self.settings, "numbers": self.numbers, "shape": self.shape, "line": self.line}


def by_entropy(selection: str, rho: float) -> bool:
    """Does an arm choose its tokens by entropy (top-ρ, bottom-ρ, or clip-cov / kl-cov within the top ρ)? The arms
    that get the premise check as a pre-flight note; ρ = 1 chooses nothing, "random" does not look at entropy."""
    return selection != "random" and rho < 1.0


def pick_prompts(messages: list, count: int, seed: int) -> list[int]:
    """Indices of `count` prompts drawn without replacement (all of them when there are fewer), seeded."""
    order = list(range(len(messages)))
    random.Random(f"premise:{seed}").shuffle(order)
    return order[:count]


def check(
    ckpt,
    messages: list,
    *,
    temperature: float,
    max_tokens: int,
    top_p: float = 1.0,
    rho: float = 0.2,
    responses: int = 32,
    per_prompt: int = 2,
    seed: int = 0,
    max_prompt_tokens: int | None = None,
    switches=None,
    backend: str = "hf",
    device=None,
    dtype: str | None = None,
    batch_tokens: int = 8192,
    top: int = 20,
    progress: bool = False,
    say=None,
) -> Premise:
    """Sample `ckpt` on the training prompts and measure the premise.

    `messages`: the training prompts as chat messages (one tuple of {"role", "content"} dicts each), rendered
    with the checkpoint's chat template exactly as training renders them (`tasks.prompts.prompt_ids` under the
    run's `switches`, a tasks.prompts.PromptSwitches).
    `responses` responses, `per_prompt` per prompt, from prompts drawn with `seed`; sampled with `backend`
    ("hf": harness's transformers sampler, whose model is reused for the entropy pass; "vllm": the offline
    engine, closed before the model is loaded for the entropy pass) at `temperature`, `top_p`, `max_tokens`.
    Entropy at the same `temperature` (the paper's rule: the rollout T), over the full vocabulary.
    """
    import torch

    from harness.backends import LOCAL_BACKENDS, Request, SamplingParams, load_tokenizer, make_sampler
    from harness.entropy import measure
    from harness.errors import UsageError
    from tasks.prompts import NO_SWITCHES, prompt_ids

    if temperature <= 0:
        raise UsageError(f"the premise needs sampling: temperature {temperature} must be > 0")
    if responses < 1 or per_prompt < 1 or max_tokens < 1:
        raise UsageError("the premise needs at least one response, one per prompt and one token")
    say = say or (lambda _m: None)
    tokenizer = load_tokenizer(ckpt)
    n_prompts = -(-responses // per_prompt)
    rendered = []
    for i in pick_prompts(messages, len(messages), seed):
        ids = tuple(prompt_ids(tokenizer, messages[i], switches or NO_SWITCHES))
        if max_prompt_tokens is None or len(ids) <= max_prompt_tokens:
            rendered.append(ids)
        if len(rendered) == n_prompts:
            break
    if not rendered:
        raise UsageError(f"no training prompt fits {max_prompt_tokens} prompt tokens")
    requests = [
        Request(key=(p, j), prompt_ids=ids, messages=(), seed=seed * 1_000_003 + p * 1000 + j)
        for p, ids in enumerate(rendered)
        for j in range(per_prompt)
    ][:responses]
    device = measure.pick_device(device)
    say(
        f"premise: sampling {len(requests)} responses from {len(rendered)} prompts with {backend}, "
        f"T={temperature:g}, top-p {top_p:g}, <= {max_tokens} tokens"
    )
    if backend == "hf":
        sampler = make_sampler(
            "hf", str(ckpt), tokenizer, batch_size=per_prompt, device=str(device), dtype=dtype or "auto"
        )
    elif backend == "vllm":
        sampler = make_sampler(
            "vllm", str(ckpt), tokenizer, max_model_len=max(len(r) for r in rendered) + max_tokens, seed=seed
        )
    else:
        raise UsageError(f"premise backend must be one of {', '.join(LOCAL_BACKENDS)}, not {backend!r}")
    got = {}
    try:
        for req, sample in sampler.sample(requests, SamplingParams(temperature, top_p, max_tokens)):
            got[req.key] = list(sample.token_ids)
        model = sampler.model if backend == "hf" else None
    finally:
        if backend != "hf":
            sampler.close()
    order = [r.key for r in requests if got.get(r.key)]
    prompts = [rendered[k[0]] for k in order]
    outs = [got[k] for k in order]
    if not outs:
        raise UsageError(f"checkpoint {ckpt} wrote no response tokens")
    if model is None:
        model = measure.load_model(ckpt, device, dtype)
    settings = {
        "checkpoint": str(ckpt),
        "temperature": temperature,
        "top_p": top_p,
        "max_tokens": max_tokens,
        "rho": rho,
        "responses": len(requests),
        "per_prompt": per_prompt,
        "seed": seed,
        "backend": backend,
        "device": str(device),
    }
    result = from_samples(
        model,
        tokenizer,
        prompts,
        outs,
        temperature=temperature,
        rho=rho,
        top=top,
        settings=settings,
        batch_tokens=batch_tokens,
        progress=progress,
        say=say,
    )
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def from_samples(
    model,
    tokenizer,
    prompts: list,
    responses: list,
    *,
    temperature: float,
    rho: float,
    settings: dict,
    top: int = 20,
    batch_tokens: int = 8192,
    progress: bool = False,
    say=None,
) -> Premise:
    """The premise of responses already sampled (prompt ids and response ids per row) from `model`, whose entropy
    is measured with `measure.token_entropies` at `temperature`. `harness train` calls it with its own sampler's
    responses and its policy before the first step; `check` with a harness sampler's."""
    from harness.entropy import measure

    rows = [(p, r) for p, r in zip(prompts, responses) if len(r)]
    if not rows:
        raise ValueError("no response tokens to measure")
    prompts, responses = [p for p, _ in rows], [r for _, r in rows]
    (say or (lambda _m: None))(f"premise: entropy of {sum(map(len, responses))} response tokens at T={temperature:g}")
    ent, _ = measure.token_entropies(
        model, prompts, responses, temperature=temperature, max_batch_tokens=batch_tokens, progress=progress
    )
    texts = measure.token_texts(tokenizer, [t for r in responses for t in r])
    nums = numbers(np.concatenate(ent), [texts[t] for r in responses for t in r], rho, top)
    nums.update(responses=len(responses), prompts=len({tuple(p) for p in prompts}))
    shape, line = verdict(nums)
    return Premise(dict(settings), nums, shape, line, prompts, responses, ent)


def note(p: Premise | dict, arms: list[str] | None = None) -> str:
    """The pre-flight note `harness train` and `harness study` print: the verdict line, for which arms."""
    d = p.to_json() if isinstance(p, Premise) else p
    who = f" (arms selecting by entropy: {', '.join(arms)})" if arms else ""
    s = d["settings"]
    return (
        f"note: premise check{who} on {s['checkpoint']}, {d['numbers']['responses']} responses at T={s['temperature']:g},"
        f" <= {s['max_tokens']} tokens: {d['line']}"
    )


def markdown(p: Premise | dict, header: list[str] | None = None) -> str:
    """The report: the numbers beside the paper's, the forking tokens, the verdict line."""
    from harness.entropy.report import _cell, _f, _pct
    from harness.tables import render

    d = p.to_json() if isinstance(p, Premise) else p
    n, s = d["numbers"], d["settings"]
    rho = f"{100 * n['rho']:g} %"
    rows = [
        ["tokens (responses, prompts)", f"{n['tokens']} ({n['responses']}, {n['prompts']})", ""],
        ["share with H < 0.01", _pct(n["share_below_0.01"]), PAPER["share_below_0.01"]],
        ["50th percentile", _f(n["p50"]), ""],
        ["80th percentile", _f(n["p80"]), PAPER["p80"]],
        ["95th percentile", _f(n["p95"]), ""],
        ["mean", _f(n["mean"]), ""],
        [f"entropy mass in the top {rho} (flat distribution: {rho})", _pct(n["top_mass_share"]), ""],
        [f"smallest entropy in the top {rho}", _f(n["top_threshold"]), ""],
    ]
    table = render(["statistic", "this checkpoint", f"paper ({PAPER['model']})"], rows, "markdown", align="lrr")
    fork = render(
        ["#", "token", f"count in top {rho}", "mean entropy there", "occurrences"],
        [
            [i, _cell(r["token"]), r["top_count"], _f(r["mean_entropy"]), r["occurrences"]]
            for i, r in enumerate(n["forking"], 1)
        ],
        "markdown",
        align="rlrrr",
    )
    seen = {r["token"] for r in n["forking"]}
    paper_words = ", ".join(f'"{w}"' + (" (here too)" if w in seen else "") for w in PAPER_FORKING)
    return "\n".join(
        [
            "# Premise check: does the base model's entropy have the paper's shape?",
            "",
            *[f"- {h}" for h in (header or [])],
            f"- sampled: {s['responses']} responses ({s['per_prompt']} per prompt) from `{s['checkpoint']}` with "
            f"{s['backend']} on {s['device']}, T = {s['temperature']:g}, top-p {s['top_p']:g}, at most "
            f"{s['max_tokens']} tokens, seed {s['seed']}; entropy teacher-forced at the same T over the full "
            "vocabulary (`harness entropy`'s measurement)",
            f"- shape thresholds (docs/DESIGN.md, reference facts): H < 0.01 for >= {100 * SHAPE['share_below_min']:g} "
            f"% of tokens and p80 <= {SHAPE['p80_max']:.1f} nats",
            "",
            table,
            f"## The {len(n['forking'])} most frequent tokens among the top {rho}",
            "",
            f"The paper's forking tokens: {paper_words}.",
            "",
            fork,
            "## Verdict",
            "",
            f"**{d['shape'].capitalize()}.** {d['line']}",
            "",
        ]
    )
