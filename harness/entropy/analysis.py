"""`harness entropy` over stored samples, as a library: plan (every check, no model loaded), then execute.

    p = plan(table, manifest, ckpts, data=..., temperature=...)   # tokenizers, prompts, vocabulary: UsageError
    out = default_out(results, p)                                 # RESULTS/entropy/<run id>-<checkpoint name(s)>
    result = execute(p, out, device, rho=..., ...)                # measure each checkpoint, write the files

One checkpoint writes tokens.parquet, summary.md, forking_tokens.md, summary.json and histogram.png; two
(`compare`) write compare_tokens.parquet and compare.md. The stages are `measure`, `stats` and `report`.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from harness.errors import UsageError


@dataclass
class Plan:
    table: pa.Table  # the sample rows, one per sample, with token ids
    manifest: dict | None  # the run's, when the samples came from a run folder
    ckpts: list[Path]  # one to measure, or two to compare
    tokenizers: list
    prompts: list[tuple[int, ...]]  # each row's prompt ids (the run's rule, checked against the store)
    responses: list[list[int]]
    temperature: float
    run_label: str  # the run id(s) of the rows

    @property
    def compare(self) -> bool:
        return len(self.ckpts) == 2


@dataclass
class Result:
    out: Path
    files: list[str]  # written under out, in the order they are named to the user
    summary: dict | None = None  # one checkpoint: stats.summarize's numbers
    text: str | None = None  # two: the comparison's Markdown


def plan(
    table: pa.Table,
    manifest: dict | None,
    ckpts: list[Path],
    *,
    data: str | None = None,
    temperature: float | None = None,
) -> Plan:
    """Everything that can fail before a model is loaded: the temperature, both tokenizers' prompt ids (the run's
    rule, `harness.stored_prompts`; two checkpoints must tokenize them alike), the responses' ids against the
    vocabulary. `temperature` None: the samples' own."""
    from harness.backends import load_tokenizer
    from harness.entropy import measure
    from harness.stored_prompts import StoredPrompts

    temperature = temperature if temperature is not None else measure.sampling_temperature(table)
    if temperature <= 0:
        raise UsageError(f"entropy at temperature {temperature} is undefined: pass --temperature > 0")
    tokenizers = [load_tokenizer(c) for c in ckpts]
    lookup = StoredPrompts(manifest, data=data)
    prompts = measure.rebuild_prompts(table, tokenizers[0], lookup)
    if len(ckpts) == 2 and measure.rebuild_prompts(table, tokenizers[1], lookup) != prompts:
        raise UsageError(
            f"{ckpts[0]} and {ckpts[1]} tokenize the prompts differently: their entropies would be over "
            "different tokens"
        )
    responses = table["token_ids"].to_pylist()
    vocab = min(len(t) for t in tokenizers)
    top_id = max((max(r) for r in responses if r), default=0)
    if top_id >= vocab:
        raise UsageError(
            f"the responses hold token id {top_id}, beyond the tokenizer of the checkpoint ({vocab} tokens)"
        )
    run_label = ",".join(sorted({str(r) for r in measure.column(table, "run_id")}))
    return Plan(table, manifest, list(ckpts), tokenizers, prompts, responses, temperature, run_label)


def default_out(results: str | Path, p: Plan) -> Path:
    """RESULTS/entropy/<run id>-<checkpoint> (two: <run id>-compare-<a>-<b>)."""
    return (
        Path(results)
        / "entropy"
        / (f"{p.run_label}-" + ("compare-" if p.compare else "") + "-".join(c.name for c in p.ckpts))
    )


def execute(
    p: Plan,
    out: Path,
    device,
    *,
    rho: float,
    top: int,
    batch_tokens: int,
    dtype: str | None = None,
    plot: bool = True,
    progress: bool = True,
    samples: str | None = None,
    command: str = "",
    say=print,
) -> Result:
    """Measure each checkpoint over the responses (`say`: one line per checkpoint) and write the outputs to `out`.

    `samples`: the sample file the rows came from (named in the header); `command`: the command line, as the
    header records it."""
    import pyarrow.parquet as pq

    from harness.entropy import measure, report, stats

    results = []
    for ckpt in p.ckpts:
        model = measure.load_model(ckpt, device, dtype)
        say(
            f"entropy: {ckpt} on {device}, {p.table.num_rows} samples, "
            f"{sum(len(r) for r in p.responses)} tokens, T={p.temperature:g}"
        )
        ent, lp = measure.token_entropies(
            model,
            p.prompts,
            p.responses,
            temperature=p.temperature,
            max_batch_tokens=batch_tokens,
            progress=progress,
        )
        results.append((ent, lp))
        del model

    head = header(p, device, rho=rho, dtype=dtype, samples=samples, command=command)
    out.mkdir(parents=True, exist_ok=True)

    tok = measure.token_table(p.table, results[0][0], results[0][1], p.tokenizers[0])
    if p.compare:
        tok = measure.paired_token_table(tok, *results[1])
        pq.write_table(tok, out / "compare_tokens.parquet")
        c = stats.compare(tok["entropy_a"].to_numpy(), tok["entropy_b"].to_numpy(), rho)
        text = report.compare_markdown(c, rho, head)
        (out / "compare.md").write_text(text)
        return Result(out, ["compare.md", "compare_tokens.parquet"], text=text)

    pq.write_table(tok, out / "tokens.parquet", compression="zstd")
    s = stats.summarize(tok, rho, top)
    (out / "summary.md").write_text(report.summary_markdown(s, head))
    (out / "forking_tokens.md").write_text(
        f"# Forking tokens: most frequent among the top {100 * rho:g} % entropy positions\n\n"
        + "".join(f"- {h}\n" for h in head)
        + "\n"
        + report.forking_markdown(s["forking"], rho)
    )
    (out / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
    if plot:
        report.histogram_png(
            tok["entropy"].to_numpy(),
            out / "histogram.png",
            f"{p.ckpts[0].name}, {p.run_label}: {tok.num_rows} response tokens, T={p.temperature:g}",
        )
    return Result(
        out, ["summary.md", "forking_tokens.md", "tokens.parquet"] + (["histogram.png"] if plot else []), summary=s
    )


def machine_line(device) -> str:
    """The report line that names where a measurement ran: the device (GPU name, or CPU and torch threads), torch."""
    import torch

    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.machine()}, {torch.get_num_threads()} torch threads"
    )
    return f"machine: {device} ({where}), torch {torch.__version__}"


def header(p: Plan, device, *, rho: float, dtype: str | None, samples: str | None, command: str) -> list[str]:
    """What a reader needs to trust the numbers: model, samples and how they were drawn, machine, date."""

    table, manifest = p.table, p.manifest
    tasks = sorted(set(table["task"].to_pylist()))
    n_problems = len(set(zip(table["task"].to_pylist(), table["problem_id"].to_pylist())))
    samp = (manifest or {}).get("sampling") or {}
    top_p = samp.get("top_p")
    lines = [
        "model: " + " vs ".join(f"`{c}`" for c in p.ckpts),
        f"samples: run `{p.run_label}`"
        + (f" ({samples})" if samples else "")
        + f", {', '.join(tasks)}: {n_problems} problems, {table.num_rows} samples"
        + (
            f", generated by `{(manifest or {}).get('checkpoint')}` with backend {manifest.get('backend')}, "
            f"template {manifest.get('template')}, temperature {samp.get('temperature')}, top-p {top_p}, "
            f"max tokens {samp.get('max_tokens')}, seed {samp.get('seed')}"
            if manifest
            else ""
        ),
        f"entropy: exact over the full vocabulary, softmax(logits / T) with T = {p.temperature:g}, teacher-forced "
        f"on the stored token ids (prompt rebuilt and checked against the stored prompt length); "
        f"top fraction rho = {rho:g}",
        machine_line(device) + f", model dtype {dtype or ('bfloat16' if device.type == 'cuda' else 'float32')}",
        f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; command: `{command}`",
    ]
    return lines
