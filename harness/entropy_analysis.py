"""Token entropy of a checkpoint over stored chains of thought: the measurements behind "forking tokens".

Wang et al. (arXiv 2506.01939) justify training on the top-20 % entropy tokens with facts about the
entropy of each response token under the policy: most tokens are near-deterministic (over half below
0.01 on Qwen3-8B, 80th percentile about 0.672), the high-entropy minority are words like "wait",
"however", "thus", and RL keeps most top-20 % positions of the base model. This module measures the
same facts on any checkpoint over samples from `harness eval`:

    load_samples(run_dir=... | samples=...)  -> the stored responses (token ids, not re-tokenized text)
    rebuild_prompts(table, tokenizer, ...)     -> the exact prompt ids each response was generated from
    token_entropies(model, prompts, responses) -> per-token entropy and log-prob (teacher forcing)
    token_table / summarize / *_markdown / histogram_png / compare

Entropy is exact over the full vocabulary, at temperature T (p = softmax(z / T)), computed with
`train.entropy` so the [tokens, V] logits are never materialised whole (the one allowed import of
`train` from a `harness` library module, see DESIGN.md). torch and transformers are imported inside
the functions that need them.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harness import store
from harness.errors import UsageError

# What a samples table must carry to be analysed (the store schema has all of them).
REQUIRED = ("task", "problem_id", "sample_idx", "token_ids", "prompt_tokens", "template", "template_hash",
            "task_hash", "temperature")
OPTIONAL = ("run_id", "correct", "truncated", "checkpoint", "budget", "max_tokens", "top_p")

LOW = 0.01  # the paper's "near-deterministic" threshold
PAPER = {"share_below_0.01": "> 50 %", "p80": 0.672, "model": "Qwen3-8B"}

# Config attributes that put something between the lm_head matmul and the logits; with any of them
# set, the fused hidden-state path would compute the wrong distribution, so the logits path is used.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")


# -----------------------------------------------------------------------------
# Samples and prompts

def load_samples(run_dir: str | Path | None = None, samples: str | Path | None = None) -> pa.Table:
    """The rows that carry a full response (token ids), one per sample, from a run folder or a file."""
    if (run_dir is None) == (samples is None):
        raise ValueError("give exactly one of run_dir, samples")
    if run_dir is not None:
        table = store.read_samples(run_dir)
        where = f"run {run_dir}"
    else:
        try:
            schema = pq.read_schema(samples)
        except (OSError, pa.ArrowInvalid) as exc:
            raise UsageError(f"cannot read {samples} as Parquet ({exc})") from None
        missing = [c for c in REQUIRED if c not in schema.names]
        if missing:
            raise UsageError(f"{samples} lacks column(s) {', '.join(missing)} (expected rows of `harness eval`'s store)")
        table = pq.read_table(samples, columns=[c for c in (*REQUIRED, *OPTIONAL) if c in schema.names])
        where = str(samples)
    table = table.filter(pc.invert(pc.is_null(table["token_ids"])))
    if table.num_rows == 0:
        raise UsageError(f"{where} holds no responses with token ids")
    # One row per sample: a run folder never has duplicates, a concatenated export might.
    keys = zip(_col(table, "run_id"), table["task"].to_pylist(), table["problem_id"].to_pylist(),
               table["sample_idx"].to_pylist())
    first_row: dict = {}
    for n, k in enumerate(keys):
        first_row.setdefault(k, n)
    first = list(first_row.values())  # ascending: rows are visited in order
    if len(first) < table.num_rows:
        table = table.take(pa.array(first))
    return table


def _col(table: pa.Table, name: str, default=None) -> list:
    return table[name].to_pylist() if name in table.column_names else [default] * table.num_rows


def sampling_temperature(table: pa.Table) -> float:
    """The temperature the responses were sampled at (the paper measures entropy at the rollout T)."""
    temps = sorted({t for t in table["temperature"].to_pylist() if t is not None})
    if len(temps) != 1:
        raise UsageError(f"the samples were drawn at {len(temps)} temperatures ({temps}); pass --temperature")
    return float(temps[0])


def rebuild_prompts(table: pa.Table, tokenizer, data: str | None = None,
                    specs: dict[str, str] | None = None) -> list[tuple[int, ...]]:
    """The prompt ids of each row, built exactly as `harness eval` built them, and checked against the store.

    The question comes from the task data (its content hash must match the row's), the user message from
    the named template (hash must match), the ids from the checkpoint's chat template via
    `chat_prompt_ids`; their count must equal the stored `prompt_tokens`. Any mismatch means the
    teacher-forced context would differ from the one the response was sampled in: a UsageError.
    `specs`: task name -> the spec to load it by (a generated task's options, e.g. "synthetic:seed=1,size=32").
    """
    import tasks
    from harness.backends import chat_prompt_ids

    loaded: dict[str, dict] = {}
    cache: dict[tuple, tuple[int, ...]] = {}
    out = []
    cols = zip(table["task"].to_pylist(), table["task_hash"].to_pylist(), table["problem_id"].to_pylist(),
               table["template"].to_pylist(), table["template_hash"].to_pylist(), table["prompt_tokens"].to_pylist())
    for task, task_hash, pid, tname, thash, n_prompt in cols:
        key = (task, pid, tname)
        if key not in cache:
            if task not in loaded:
                t = tasks.load((specs or {}).get(task, task), source=data)
                if task_hash is not None and t.content_hash != task_hash:
                    raise UsageError(f"task {task} from {t.source} has content hash {t.content_hash}, the samples were "
                                     f"generated from {task_hash}: pass --data with the same data")
                loaded[task] = {p.id: p for p in t.problems}
            if pid not in loaded[task]:
                raise UsageError(f"problem {pid} is not in task {task}")
            template = tasks.get_template(tname)
            if thash is not None and template.hash != thash:
                raise UsageError(f"template {tname!r} has changed since the samples were generated "
                                 f"(hash {template.hash}, samples {thash})")
            cache[key] = chat_prompt_ids(tokenizer, template.render(loaded[task][pid].question))
        ids = cache[key]
        if n_prompt is not None and len(ids) != n_prompt:
            raise UsageError(f"{task} {pid}: the rebuilt prompt has {len(ids)} tokens, the samples' had {n_prompt} "
                             "(a different tokenizer or chat template than the run used)")
        out.append(ids)
    return out


# -----------------------------------------------------------------------------
# Teacher-forced entropies

def pick_device(name: str | None = None):
    import torch

    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_model(ckpt: str | Path, device, dtype: str | None = None):
    """The checkpoint in eval mode: float32 on CPU, bfloat16 on GPU unless `dtype` says otherwise."""
    import torch
    from transformers import AutoModelForCausalLM

    torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if device.type == "cuda" else torch.float32)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(ckpt), dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        raise UsageError(f"checkpoint {ckpt}: cannot load the model ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval()


def _uses_plain_lm_head(model) -> bool:
    """True when logits are exactly `last_hidden_state @ lm_head.weight.T` (Llama, Qwen, Mistral, ...)."""
    head = model.get_output_embeddings()
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    transformed = any(getattr(config, a, None) not in (None, 1, 1.0) for a in _LOGIT_TRANSFORMS)
    return head is not None and getattr(head, "bias", None) is None and not transformed and hasattr(model, "base_model")


def _batches(lengths: list[int], max_batch_tokens: int) -> list[list[int]]:
    """Indices grouped longest first so that rows x longest <= max_batch_tokens (one row always fits)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * lengths[cur[0]] > max_batch_tokens:
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def token_entropies(model, prompts: list[tuple[int, ...]], responses: list[list[int]], *, temperature: float,
                    max_batch_tokens: int = 8192, progress: bool = True, fused: bool | None = None):
    """Per response token: (entropy, log p(token)) under softmax(logits / T), teacher-forced on prompt + response.

    Response token t is predicted from the hidden state at prompt length + t - 1, so the input is the
    prompt and all but the last response token. Sequences are right-padded into batches of at most
    `max_batch_tokens` (padding only ever follows real tokens, so causal attention never sees it).
    `fused` (default: when the model's logits are a plain lm_head matmul) computes entropy from hidden
    states chunk by chunk; otherwise the model's logits are taken and reduced with the chunked kernel.
    """
    import torch
    from tqdm import tqdm

    from train.entropy import fused_logprobs_and_entropy, logprobs_and_entropy

    if fused is None:
        fused = _uses_plain_lm_head(model)
    device = next(model.parameters()).device
    lengths = [len(p) + len(r) - 1 for p, r in zip(prompts, responses)]
    ent_out: list[np.ndarray] = [np.zeros(0, np.float32)] * len(responses)
    lp_out: list[np.ndarray] = [np.zeros(0, np.float32)] * len(responses)
    todo = [i for i, r in enumerate(responses) if len(r) > 0]
    if any(len(prompts[i]) == 0 for i in todo):
        raise UsageError("a sample has an empty prompt: the first response token has no context to be predicted from")
    bar = tqdm(total=sum(len(responses[i]) for i in todo), desc="entropy", unit="tok", disable=not progress,
               file=sys.stderr)
    weight = model.get_output_embeddings().weight
    with torch.inference_mode():
        for batch in _batches([lengths[i] for i in todo], max_batch_tokens):
            idx = [todo[b] for b in batch]
            width = max(lengths[i] for i in idx)
            ids = torch.zeros((len(idx), width), dtype=torch.long)
            attn = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                seq = list(prompts[i]) + list(responses[i][:-1])
                ids[row, :len(seq)] = torch.tensor(seq)
                attn[row, :len(seq)] = 1
            ids, attn = ids.to(device), attn.to(device)
            rows = torch.cat([torch.arange(len(prompts[i]) - 1, lengths[i]) + r * width for r, i in enumerate(idx)])
            labels = torch.cat([torch.tensor(responses[i], dtype=torch.long) for i in idx]).to(device)
            rows = rows.to(device)
            if fused:
                hidden = model.base_model(input_ids=ids, attention_mask=attn).last_hidden_state
                lp, ent = fused_logprobs_and_entropy(hidden.reshape(-1, hidden.shape[-1])[rows], weight, labels,
                                                     temperature=temperature)
            else:
                logits = model(input_ids=ids, attention_mask=attn).logits
                lp, ent = logprobs_and_entropy(logits.reshape(-1, logits.shape[-1])[rows], labels,
                                               temperature=temperature)
            ent, lp = ent.float().cpu().numpy(), lp.float().cpu().numpy()
            start = 0
            for i in idx:
                n = len(responses[i])
                ent_out[i], lp_out[i] = ent[start:start + n], lp[start:start + n]
                start += n
            bar.update(start)
    bar.close()
    return ent_out, lp_out


# -----------------------------------------------------------------------------
# Tables and statistics

TOKEN_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("task", pa.string()), ("problem_id", pa.string()), ("sample_idx", pa.int32()),
    ("position", pa.int32()), ("token_id", pa.int32()), ("token", pa.string()), ("entropy", pa.float32()),
    ("logprob", pa.float32()), ("correct", pa.bool_()), ("truncated", pa.bool_()),
])


def token_texts(tokenizer, ids) -> dict[int, str]:
    """Each distinct id decoded on its own (" wait", "\\n\\n"), as a reader of the table wants to see it."""
    unique = sorted({int(i) for i in ids})
    return dict(zip(unique, tokenizer.batch_decode([[i] for i in unique])))


def token_table(table: pa.Table, entropies: list[np.ndarray], logprobs: list[np.ndarray], tokenizer) -> pa.Table:
    """One row per response token of every sample (the per-token Parquet)."""
    responses = table["token_ids"].to_pylist()
    flat_ids = [t for r in responses for t in r]
    texts = token_texts(tokenizer, flat_ids)
    counts = [len(r) for r in responses]
    rep = lambda values: [v for v, n in zip(values, counts) for _ in range(n)]  # noqa: E731
    return pa.table({
        "run_id": rep(_col(table, "run_id")), "task": rep(table["task"].to_pylist()),
        "problem_id": rep(table["problem_id"].to_pylist()), "sample_idx": rep(table["sample_idx"].to_pylist()),
        "position": [p for n in counts for p in range(n)], "token_id": flat_ids,
        "token": [texts[t] for t in flat_ids],
        "entropy": np.concatenate(entropies) if entropies else np.zeros(0, np.float32),
        "logprob": np.concatenate(logprobs) if logprobs else np.zeros(0, np.float32),
        "correct": rep(_col(table, "correct")), "truncated": rep(_col(table, "truncated")),
    }, schema=TOKEN_SCHEMA)


def top_fraction(values: np.ndarray, rho: float = 0.2) -> np.ndarray:
    """Boolean mask of the k = ceil(rho * N) largest values (the authors' top-k rule; ties go to the earlier)."""
    values = np.asarray(values)
    k = math.ceil(rho * len(values))
    mask = np.zeros(len(values), dtype=bool)
    mask[np.argsort(-values, kind="stable")[:k]] = True
    return mask


def distribution(h: np.ndarray) -> dict:
    """Count, mean, share below 0.01 and the paper's percentiles of a set of entropies."""
    if len(h) == 0:
        return {"tokens": 0}
    p = np.percentile(h.astype(np.float64), [50, 80, 90, 99])
    return {"tokens": int(len(h)), "mean": float(h.mean()), "share_below_0.01": float((h < LOW).mean()),
            "p50": float(p[0]), "p80": float(p[1]), "p90": float(p[2]), "p99": float(p[3]), "max": float(h.max())}


def position_buckets(max_position: int) -> list[tuple[int, int]]:
    """[0, 64), [64, 128), [128, 256), ... doubling, up to the longest response."""
    edges = [0, 64]
    while edges[-1] <= max_position:
        edges.append(edges[-1] * 2)
    return list(zip(edges[:-1], edges[1:]))


def token_key(text: str) -> str:
    """Forking tokens are counted as words: " Wait" and "wait" together; whitespace tokens shown escaped."""
    stripped = text.strip().lower()
    return stripped if stripped else text.encode("unicode_escape").decode().replace(" ", "␣")


def forking_tokens(texts: list[str], h: np.ndarray, top: np.ndarray, limit: int = 30) -> list[dict]:
    """The most frequent tokens among the top-rho positions: count there, their mean entropy there, and
    how often the token is in the top set at all (a word that is always forking vs one that is frequent)."""
    stats: dict[str, list] = {}
    for text, e, t in zip(texts, h, top):
        s = stats.setdefault(token_key(text), [0, 0, 0.0])  # occurrences, in top, entropy sum in top
        s[0] += 1
        if t:
            s[1] += 1
            s[2] += float(e)
    rows = [{"token": k, "top_count": v[1], "mean_entropy": v[2] / v[1], "occurrences": v[0],
             "top_rate": v[1] / v[0]} for k, v in stats.items() if v[1]]
    rows.sort(key=lambda r: (-r["top_count"], -r["mean_entropy"], r["token"]))
    return rows[:limit]


def summarize(tokens: pa.Table, rho: float = 0.2, limit: int = 30) -> dict:
    """Everything the Markdown summary shows, as plain numbers."""
    h = tokens["entropy"].to_numpy(zero_copy_only=False).astype(np.float64)
    pos = tokens["position"].to_numpy(zero_copy_only=False)
    texts = tokens["token"].to_pylist()
    correct_col, truncated_col = tokens["correct"].to_pylist(), tokens["truncated"].to_pylist()
    correct = np.array([c is True for c in correct_col])
    wrong = np.array([c is False for c in correct_col])
    cut = np.array([c is True for c in truncated_col])
    stopped = np.array([c is False for c in truncated_col])
    top = top_fraction(h, rho)
    sample_of = list(zip(tokens["run_id"].to_pylist(), tokens["task"].to_pylist(), tokens["problem_id"].to_pylist(),
                         tokens["sample_idx"].to_pylist()))  # each token's sample
    buckets = []
    for lo, hi in position_buckets(int(pos.max()) if len(pos) else 0):
        sel = (pos >= lo) & (pos < hi)
        if sel.any():
            buckets.append({"from": lo, "to": hi, **distribution(h[sel]), "top_share": float(top[sel].mean())})
    split = {}
    for name, sel in (("correct", correct), ("wrong", wrong), ("stopped", stopped), ("cut at the budget", cut)):
        split[name] = {**distribution(h[sel]), "top_share": float(top[sel].mean()) if sel.any() else None,
                       "forking": forking_tokens([t for t, s in zip(texts, sel) if s], h[sel], top[sel], 10)}
        split[name]["samples"] = len({k for k, s in zip(sample_of, sel) if s})
    lp = tokens["logprob"].to_numpy(zero_copy_only=False).astype(np.float64)
    return {"rho": rho, "samples": len(set(sample_of)), "all": distribution(h),
            "mean_nll": float(-lp.mean()) if len(lp) else None,
            "mean_nll_se": float((-lp - h).std() / math.sqrt(len(lp))) if len(lp) else None,
            "top_threshold": float(h[top].min()) if top.any() else None,
            "buckets": buckets, "forking": forking_tokens(texts, h, top, limit), "split": split}


# -----------------------------------------------------------------------------
# Markdown and the plot

def _f(x, digits=3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def forking_markdown(rows: list[dict], rho: float) -> str:
    lines = [f"| # | token | count in top {100 * rho:g} % | mean entropy there | occurrences | share in top {100 * rho:g} % |",
             "|---:|---|---:|---:|---:|---:|"]
    for n, r in enumerate(rows, 1):
        lines.append(f"| {n} | {_cell(r['token'])} | {r['top_count']} | {_f(r['mean_entropy'])} | {r['occurrences']} "
                     f"| {_pct(r['top_rate'])} |")
    return "\n".join(lines) + "\n"


def summary_markdown(s: dict, header: list[str]) -> str:
    """The summary: labelled header, distribution beside the paper's, position buckets, forking tokens, split."""
    a = s["all"]
    out = ["# Token entropy of chains of thought", "", *[f"- {h}" for h in header], "",
           "## Distribution", "",
           f"| statistic | this run | paper ({PAPER['model']}) |", "|---|---:|---:|",
           f"| tokens (samples) | {a['tokens']} ({s['samples']}) | |",
           f"| share with H < 0.01 | {_pct(a.get('share_below_0.01'))} | {PAPER['share_below_0.01']} |",
           f"| mean | {_f(a.get('mean'))} | |",
           f"| mean −log p of the sampled token (check: equals the mean when sampled at this T with top-p 1; "
           f"SE of the difference {_f(s['mean_nll_se'], 4)}) | {_f(s['mean_nll'])} | |",
           f"| 50th percentile | {_f(a.get('p50'))} | |",
           f"| 80th percentile | {_f(a.get('p80'))} | {PAPER['p80']} |",
           f"| 90th percentile | {_f(a.get('p90'))} | |",
           f"| 99th percentile | {_f(a.get('p99'))} | |",
           f"| max | {_f(a.get('max'))} | |",
           f"| smallest entropy in the top {100 * s['rho']:g} % | {_f(s['top_threshold'])} | |", "",
           "## By position in the response", "",
           f"| positions | tokens | mean | H < 0.01 | p50 | p80 | share in top {100 * s['rho']:g} % |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for b in s["buckets"]:
        out.append(f"| {b['from']}–{b['to'] - 1} | {b['tokens']} | {_f(b['mean'])} | {_pct(b['share_below_0.01'])} "
                   f"| {_f(b['p50'])} | {_f(b['p80'])} | {_pct(b['top_share'])} |")
    out += ["", f"## Forking tokens (most frequent among the top {100 * s['rho']:g} % entropy positions)", "",
            forking_markdown(s["forking"], s["rho"]),
            "## Correct vs wrong samples (and responses that stopped vs were cut at the token budget)", "",
            f"| samples | count | tokens | mean | H < 0.01 | p50 | p80 | p90 | p99 | share in top {100 * s['rho']:g} % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, d in s["split"].items():
        out.append(f"| {name} | {d['samples']} | {d['tokens']} | {_f(d.get('mean'))} | {_pct(d.get('share_below_0.01'))} "
                   f"| {_f(d.get('p50'))} | {_f(d.get('p80'))} | {_f(d.get('p90'))} | {_f(d.get('p99'))} "
                   f"| {_pct(d.get('top_share'))} |")
    for name, d in s["split"].items():
        if d["forking"] and name in ("correct", "wrong"):
            out += ["", f"Top forking tokens, {name} samples: "
                    + ", ".join(f"{_cell(r['token'])} ({r['top_count']})" for r in d["forking"])]
    return "\n".join(out) + "\n"


def histogram_png(h: np.ndarray, path: str | Path, title: str) -> Path:
    """Histogram of per-token entropy on a log x axis (the mass near 0 is the point), 0.01 and p80 marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = np.asarray(h, dtype=np.float64)
    floor = 1e-6
    fig, ax = plt.subplots(figsize=(7, 4.2))
    hi = max(float(h.max()) if len(h) else 1.0, 1.0)
    bins = np.logspace(np.log10(floor), np.log10(hi * 1.05), 61)
    ax.hist(np.clip(h, floor, None), bins=bins, weights=np.full(len(h), 100.0 / max(len(h), 1)), color="#4c72b0")
    ax.set_xscale("log")
    ax.set_xlabel(f"token entropy (nats; values below {floor:g} drawn at {floor:g})")
    ax.set_ylabel("% of tokens")
    share = float((h < LOW).mean()) if len(h) else 0.0
    p80 = float(np.percentile(h, 80)) if len(h) else 0.0
    ax.axvline(LOW, color="k", ls="--", lw=1, label=f"H = 0.01 ({100 * share:.1f} % of tokens below)")
    ax.axvline(max(p80, floor), color="#c44e52", lw=1.2, label=f"80th percentile = {p80:.3f} (paper, Qwen3-8B: 0.672)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title, fontsize=9)
    from harness.plots import save_figure

    return save_figure(fig, path)


# -----------------------------------------------------------------------------
# Two checkpoints over the same responses

@dataclass
class Comparison:
    tokens: int
    k: int
    overlap: int  # positions in both top-rho sets
    high_change: dict  # entropy B - A on A's top-rho positions
    low_change: dict  # ... on the rest

    @property
    def overlap_share(self) -> float:
        return self.overlap / self.k if self.k else float("nan")


def _change(a: np.ndarray, b: np.ndarray) -> dict:
    if len(a) == 0:
        return {"tokens": 0}
    d = b - a
    return {"tokens": int(len(a)), "mean_a": float(a.mean()), "mean_b": float(b.mean()), "mean_change": float(d.mean()),
            "mean_abs_change": float(np.abs(d).mean()), "relative_change": float(d.mean() / a.mean()) if a.mean() else None}


def compare(h_a: np.ndarray, h_b: np.ndarray, rho: float = 0.2) -> Comparison:
    """Overlap of the two checkpoints' top-rho positions (share of k), and the entropy change B - A on
    A's high- vs low-entropy positions (the paper: RL keeps ~86 % and changes mostly the high ones)."""
    h_a, h_b = np.asarray(h_a, np.float64), np.asarray(h_b, np.float64)
    if h_a.shape != h_b.shape:
        raise ValueError(f"entropies over different tokens: {h_a.shape} vs {h_b.shape}")
    top_a, top_b = top_fraction(h_a, rho), top_fraction(h_b, rho)
    return Comparison(tokens=len(h_a), k=int(top_a.sum()), overlap=int((top_a & top_b).sum()),
                      high_change=_change(h_a[top_a], h_b[top_a]), low_change=_change(h_a[~top_a], h_b[~top_a]))


def compare_markdown(c: Comparison, rho: float, header: list[str]) -> str:
    out = ["# Token entropy: two checkpoints over the same responses", "", *[f"- {h}" for h in header], "",
           f"Top {100 * rho:g} % positions: k = {c.k} of {c.tokens} tokens per checkpoint; in both: {c.overlap} "
           f"= **{_pct(c.overlap_share)}** of k (the paper reports about 86 % between a base model and its RL "
           "checkpoint).", "",
           "| A's positions | tokens | mean H (A) | mean H (B) | mean change B − A | mean abs change | relative change |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for name, d in ((f"top {100 * rho:g} %", c.high_change), (f"other {100 - 100 * rho:g} %", c.low_change)):
        out.append(f"| {name} | {d['tokens']} | {_f(d.get('mean_a'), 4)} | {_f(d.get('mean_b'), 4)} "
                   f"| {_f(d.get('mean_change'), 4)} | {_f(d.get('mean_abs_change'), 4)} | {_pct(d.get('relative_change'))} |")
    return "\n".join(out) + "\n"
