"""Stage 2 of the token-entropy analysis: statistics, numpy only. Per-token entropies in, plain numbers out.

Wang et al. (arXiv 2506.01939) justify training on the top-20 % entropy tokens with facts about the
entropy of each response token under the policy: most tokens are near-deterministic (over half below
0.01 on Qwen3-8B, 80th percentile about 0.672), the high-entropy minority are words like "wait",
"however", "thus", and RL keeps most top-20 % positions of the base model. `summarize` and `compare`
compute those facts for any checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

LOW = 0.01  # the paper's "near-deterministic" threshold
PAPER = {"share_below_0.01": "> 50 %", "p80": 0.672, "model": "Qwen3-8B"}


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
    return {
        "tokens": int(len(h)),
        "mean": float(h.mean()),
        "share_below_0.01": float((h < LOW).mean()),
        "p50": float(p[0]),
        "p80": float(p[1]),
        "p90": float(p[2]),
        "p99": float(p[3]),
        "max": float(h.max()),
    }


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
    rows = [
        {"token": k, "top_count": v[1], "mean_entropy": v[2] / v[1], "occurrences": v[0], "top_rate": v[1] / v[0]}
        for k, v in stats.items()
        if v[1]
    ]
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
    sample_of = list(
        zip(
            tokens["run_id"].to_pylist(),
            tokens["task"].to_pylist(),
            tokens["problem_id"].to_pylist(),
            tokens["sample_idx"].to_pylist(),
        )
    )  # each token's sample
    buckets = []
    for lo, hi in position_buckets(int(pos.max()) if len(pos) else 0):
        sel = (pos >= lo) & (pos < hi)
        if sel.any():
            buckets.append({"from": lo, "to": hi, **distribution(h[sel]), "top_share": float(top[sel].mean())})
    split = {}
    for name, sel in (("correct", correct), ("wrong", wrong), ("stopped", stopped), ("cut at the budget", cut)):
        split[name] = {
            **distribution(h[sel]),
            "top_share": float(top[sel].mean()) if sel.any() else None,
            "forking": forking_tokens([t for t, s in zip(texts, sel) if s], h[sel], top[sel], 10),
        }
        split[name]["samples"] = len({k for k, s in zip(sample_of, sel) if s})
    lp = tokens["logprob"].to_numpy(zero_copy_only=False).astype(np.float64)
    return {
        "rho": rho,
        "samples": len(set(sample_of)),
        "all": distribution(h),
        "mean_nll": float(-lp.mean()) if len(lp) else None,
        "mean_nll_se": float((-lp - h).std() / math.sqrt(len(lp))) if len(lp) else None,
        "top_threshold": float(h[top].min()) if top.any() else None,
        "buckets": buckets,
        "forking": forking_tokens(texts, h, top, limit),
        "split": split,
    }


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
    return {
        "tokens": int(len(a)),
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "mean_change": float(d.mean()),
        "mean_abs_change": float(np.abs(d).mean()),
        "relative_change": float(d.mean() / a.mean()) if a.mean() else None,
    }


def compare(h_a: np.ndarray, h_b: np.ndarray, rho: float = 0.2) -> Comparison:
    """Overlap of the two checkpoints' top-rho positions (share of k), and the entropy change B - A on
    A's high- vs low-entropy positions (the paper: RL keeps ~86 % and changes mostly the high ones)."""
    h_a, h_b = np.asarray(h_a, np.float64), np.asarray(h_b, np.float64)
    if h_a.shape != h_b.shape:
        raise ValueError(f"entropies over different tokens: {h_a.shape} vs {h_b.shape}")
    top_a, top_b = top_fraction(h_a, rho), top_fraction(h_b, rho)
    return Comparison(
        tokens=len(h_a),
        k=int(top_a.sum()),
        overlap=int((top_a & top_b).sum()),
        high_change=_change(h_a[top_a], h_b[top_a]),
        low_change=_change(h_a[~top_a], h_b[~top_a]),
    )
