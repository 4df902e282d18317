"""Stage 3 of the token-entropy analysis: report. Statistics in, Markdown and a PNG out.

matplotlib is imported inside `histogram_png`, so importing this module is free.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.entropy.stats import LOW, PAPER, Comparison
from harness.tables import render


def _f(x, digits=3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _cell(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"  # harness.tables.render escapes "|"


def forking_markdown(rows: list[dict], rho: float) -> str:
    top = f"{100 * rho:g} %"
    headers = ["#", "token", f"count in top {top}", "mean entropy there", "occurrences", f"share in top {top}"]
    body = [
        [n, _cell(r["token"]), r["top_count"], _f(r["mean_entropy"]), r["occurrences"], _pct(r["top_rate"])]
        for n, r in enumerate(rows, 1)
    ]
    return render(headers, body, "markdown", align="rlrrrr")


def distribution_markdown(s: dict) -> str:
    """The entropy distribution beside the paper's figures."""
    a = s["all"]
    rows = [
        ["tokens (samples)", f"{a['tokens']} ({s['samples']})", ""],
        ["share with H < 0.01", _pct(a.get("share_below_0.01")), PAPER["share_below_0.01"]],
        ["mean", _f(a.get("mean")), ""],
        [
            "mean −log p of the sampled token (check: equals the mean when sampled at this T with top-p 1; "
            f"SE of the difference {_f(s['mean_nll_se'], 4)})",
            _f(s["mean_nll"]),
            "",
        ],
        ["50th percentile", _f(a.get("p50")), ""],
        ["80th percentile", _f(a.get("p80")), PAPER["p80"]],
        ["90th percentile", _f(a.get("p90")), ""],
        ["99th percentile", _f(a.get("p99")), ""],
        ["max", _f(a.get("max")), ""],
        [f"smallest entropy in the top {100 * s['rho']:g} %", _f(s["top_threshold"]), ""],
    ]
    return render(["statistic", "this run", f"paper ({PAPER['model']})"], rows, "markdown", align="lrr")


def summary_markdown(s: dict, header: list[str]) -> str:
    """The summary: labelled header, distribution beside the paper's, position buckets, forking tokens, split."""
    out = [
        "# Token entropy of chains of thought",
        "",
        *[f"- {h}" for h in header],
        "",
        "## Distribution",
        "",
        distribution_markdown(s),
        "## By position in the response",
        "",
        render(
            ["positions", "tokens", "mean", "H < 0.01", "p50", "p80", f"share in top {100 * s['rho']:g} %"],
            [
                [f"{b['from']}–{b['to'] - 1}", b["tokens"], _f(b["mean"]), _pct(b["share_below_0.01"])]
                + [_f(b["p50"]), _f(b["p80"]), _pct(b["top_share"])]
                for b in s["buckets"]
            ],
            "markdown",
            align="lrrrrrr",
        ),
        f"## Forking tokens (most frequent among the top {100 * s['rho']:g} % entropy positions)",
        "",
        forking_markdown(s["forking"], s["rho"]),
        "## Correct vs wrong samples (and responses that stopped vs were cut at the token budget)",
        "",
        render(
            ["samples", "count", "tokens", "mean", "H < 0.01", "p50", "p80", "p90", "p99"]
            + [f"share in top {100 * s['rho']:g} %"],
            [
                [name, d["samples"], d["tokens"], _f(d.get("mean")), _pct(d.get("share_below_0.01"))]
                + [_f(d.get(k)) for k in ("p50", "p80", "p90", "p99")]
                + [_pct(d.get("top_share"))]
                for name, d in s["split"].items()
            ],
            "markdown",
            align="lrrrrrrrrr",
        ).rstrip("\n"),
    ]
    for name, d in s["split"].items():
        if d["forking"] and name in ("correct", "wrong"):
            out += [
                "",
                f"Top forking tokens, {name} samples: "
                + ", ".join(f"{_cell(r['token'])} ({r['top_count']})" for r in d["forking"]),
            ]
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


def compare_markdown(c: Comparison, rho: float, header: list[str]) -> str:
    out = [
        "# Token entropy: two checkpoints over the same responses",
        "",
        *[f"- {h}" for h in header],
        "",
        f"Top {100 * rho:g} % positions: k = {c.k} of {c.tokens} tokens per checkpoint; in both: {c.overlap} "
        f"= **{_pct(c.overlap_share)}** of k (the paper reports about 86 % between a base model and its RL "
        "checkpoint).",
        "",
        render(
            ["A's positions", "tokens", "mean H (A)", "mean H (B)", "mean change B − A", "mean abs change"]
            + ["relative change"],
            [
                [name, d["tokens"]]
                + [_f(d.get(k), 4) for k in ("mean_a", "mean_b", "mean_change", "mean_abs_change")]
                + [_pct(d.get("relative_change"))]
                for name, d in ((f"top {100 * rho:g} %", c.high_change), (f"other {100 - 100 * rho:g} %", c.low_change))
            ],
            "markdown",
            align="lrrrrrr",
        ).rstrip("\n"),
    ]
    return "\n".join(out) + "\n"
