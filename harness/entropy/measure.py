"""Stage 1 of the token-entropy analysis: measure. Samples and prompts in, per-token entropies out.

    load_samples(run_dir=... | samples=...)  -> the stored responses (token ids, not re-tokenized text)
    rebuild_prompts(table, tokenizer, ...)     -> the exact prompt ids each response was generated from
                                                  (harness.stored_prompts: the run's own rule)
    token_entropies(model, prompts, responses) -> per-token entropy and log-prob (teacher forcing)
    token_table(...)                           -> one row per response token (the per-token Parquet)

Entropy is exact over the full vocabulary, at temperature T (p = softmax(z / T)), computed with
`train.entropy` so the [tokens, V] logits are never materialised whole (the one allowed import of
`train` from a `harness` library module, see docs/DESIGN.md). torch and transformers are imported inside
the functions that need them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harness import store
from harness.errors import UsageError

REQUIRED = (
    "task",
    "problem_id",
    "sample_idx",
    "token_ids",
    "prompt_tokens",
    "template",
    "template_hash",
    "task_hash",
    "temperature",
)
OPTIONAL = ("run_id", "correct", "truncated", "checkpoint", "budget", "max_tokens", "top_p")

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
            raise UsageError(
                f"{samples} lacks column(s) {', '.join(missing)} (expected rows of `harness eval`'s store)"
            )
        table = pq.read_table(samples, columns=[c for c in (*REQUIRED, *OPTIONAL) if c in schema.names])
        where = str(samples)
    table = table.filter(pc.invert(pc.is_null(table["token_ids"])))
    if table.num_rows == 0:
        raise UsageError(f"{where} holds no responses with token ids")
    # One row per sample: a run folder never has duplicates, a concatenated export might.
    keys = zip(
        column(table, "run_id"),
        table["task"].to_pylist(),
        table["problem_id"].to_pylist(),
        table["sample_idx"].to_pylist(),
    )
    first_row: dict = {}
    for n, k in enumerate(keys):
        first_row.setdefault(k, n)
    first = list(first_row.values())  # ascending: rows are visited in order
    if len(first) < table.num_rows:
        table = table.take(pa.array(first))
    return table


def load_run_samples(run_dir: Path, say=print) -> pa.Table:
    """`load_samples` of a run folder; damaged shards are set aside first (under the run lock, as `harness eval`
    does) and reported through `say`."""
    try:
        return load_samples(run_dir=run_dir)
    except store.DamagedShard:
        lock = store.RunLock(run_dir)
        if not lock.acquire():  # an eval is writing the run: it sets the shard aside itself
            lock.release()
            raise
        try:
            for shard, aside, reason in store.set_aside_damaged(run_dir):
                say(
                    f"shard {shard.name} is damaged ({reason}): set aside as {aside.name}; using the other samples "
                    "(rerun the same `harness eval` to generate its samples again)"
                )
        finally:
            lock.release()
        return load_samples(run_dir=run_dir)


def column(table: pa.Table, name: str, default=None) -> list:
    """A column as a list, or `default` per row when the table lacks it (optional store columns)."""
    return table[name].to_pylist() if name in table.column_names else [default] * table.num_rows


def sampling_temperature(table: pa.Table) -> float:
    """The temperature the responses were sampled at (the paper measures entropy at the rollout T)."""
    temps = sorted({t for t in table["temperature"].to_pylist() if t is not None})
    if len(temps) != 1:
        raise UsageError(f"the samples were drawn at {len(temps)} temperatures ({temps}); pass --temperature")
    return float(temps[0])


def rebuild_prompts(table: pa.Table, tokenizer, prompts=None) -> list[tuple[int, ...]]:
    """The prompt ids of each row, built exactly as `harness eval` built them, and checked against the store.

    `prompts` (a `harness.stored_prompts.StoredPrompts`, default: one without a manifest) is the run's rule:
    the question from the task data (its content hash must match the row's), the user message from the
    recorded template (hash must match), the run's prompt switches, the checkpoint's chat template
    (`tasks.prompts`); the count must equal the stored `prompt_tokens`. Any mismatch means the
    teacher-forced context would differ from the one the response was sampled in: a UsageError.
    """
    from harness.stored_prompts import StoredPrompts

    prompts = prompts if prompts is not None else StoredPrompts()
    fields = ("task", "task_hash", "problem_id", "template", "template_hash", "prompt_tokens")
    cache: dict[tuple, tuple[int, ...]] = {}
    out = []
    for row in zip(*(table[f].to_pylist() for f in fields)):
        if row not in cache:
            cache[row] = prompts.ids(dict(zip(fields, row)), tokenizer)
        out.append(cache[row])
    return out


# -----------------------------------------------------------------------------
# Teacher-forced entropies


def pick_device(name: str | None = None):
    """The torch device `name` (default cuda when present, else cpu); UsageError when it is not one or is absent."""
    import torch

    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"--device {name}: not a torch device ({str(exc).splitlines()[0]})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, no GPU visible"
        raise UsageError(f"--device {name}: CUDA is not available here (torch {torch.__version__}, {build})")
    if device.type != "cpu":
        try:
            torch.empty(1, device=device)
        except (RuntimeError, AssertionError) as exc:
            raise UsageError(f"--device {name}: unusable ({str(exc).splitlines()[0]})") from None
    return device


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


def token_entropies(
    model,
    prompts: list[tuple[int, ...]],
    responses: list[list[int]],
    *,
    temperature: float,
    max_batch_tokens: int = 8192,
    progress: bool = True,
    fused: bool | None = None,
):
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
    bar = tqdm(
        total=sum(len(responses[i]) for i in todo), desc="entropy", unit="tok", disable=not progress, file=sys.stderr
    )
    weight = model.get_output_embeddings().weight
    with torch.inference_mode():
        for batch in _batches([lengths[i] for i in todo], max_batch_tokens):
            idx = [todo[b] for b in batch]
            width = max(lengths[i] for i in idx)
            ids = torch.zeros((len(idx), width), dtype=torch.long)
            attn = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                seq = list(prompts[i]) + list(responses[i][:-1])
                ids[row, : len(seq)] = torch.tensor(seq)
                attn[row, : len(seq)] = 1
            ids, attn = ids.to(device), attn.to(device)
            rows = torch.cat([torch.arange(len(prompts[i]) - 1, lengths[i]) + r * width for r, i in enumerate(idx)])
            labels = torch.cat([torch.tensor(responses[i], dtype=torch.long) for i in idx]).to(device)
            rows = rows.to(device)
            if fused:
                hidden = model.base_model(input_ids=ids, attention_mask=attn).last_hidden_state
                lp, ent = fused_logprobs_and_entropy(
                    hidden.reshape(-1, hidden.shape[-1])[rows], weight, labels, temperature=temperature
                )
            else:
                logits = model(input_ids=ids, attention_mask=attn).logits
                lp, ent = logprobs_and_entropy(
                    logits.reshape(-1, logits.shape[-1])[rows], labels, temperature=temperature
                )
            ent, lp = ent.float().cpu().numpy(), lp.float().cpu().numpy()
            start = 0
            for i in idx:
                n = len(responses[i])
                ent_out[i], lp_out[i] = ent[start : start + n], lp[start : start + n]
                start += n
            bar.update(start)
    bar.close()
    return ent_out, lp_out


# -----------------------------------------------------------------------------
# The per-token table


TOKEN_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("task", pa.string()),
        ("problem_id", pa.string()),
        ("sample_idx", pa.int32()),
        ("position", pa.int32()),
        ("token_id", pa.int32()),
        ("token", pa.string()),
        ("entropy", pa.float32()),
        ("logprob", pa.float32()),
        ("correct", pa.bool_()),
        ("truncated", pa.bool_()),
    ]
)


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
    return pa.table(
        {
            "run_id": rep(column(table, "run_id")),
            "task": rep(table["task"].to_pylist()),
            "problem_id": rep(table["problem_id"].to_pylist()),
            "sample_idx": rep(table["sample_idx"].to_pylist()),
            "position": [p for n in counts for p in range(n)],
            "token_id": flat_ids,
            "token": [texts[t] for t in flat_ids],
            "entropy": np.concatenate(entropies) if entropies else np.zeros(0, np.float32),
            "logprob": np.concatenate(logprobs) if logprobs else np.zeros(0, np.float32),
            "correct": rep(column(table, "correct")),
            "truncated": rep(column(table, "truncated")),
        },
        schema=TOKEN_SCHEMA,
    )


def paired_token_table(tok: pa.Table, entropies_b: list[np.ndarray], logprobs_b: list[np.ndarray]) -> pa.Table:
    """`token_table` of checkpoint A with B's entropies and log-probs beside it (`entropy_a`, `entropy_b`, ...)."""
    tok = tok.rename_columns([c if c not in ("entropy", "logprob") else f"{c}_a" for c in tok.column_names])
    tok = tok.append_column("entropy_b", pa.array(np.concatenate(entropies_b), pa.float32()))
    return tok.append_column("logprob_b", pa.array(np.concatenate(logprobs_b), pa.float32()))
