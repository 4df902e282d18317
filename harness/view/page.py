"""The viewer's one HTML page: a template with its style and script inline, and the data as embedded JSON.

Served, the page holds the index (leaderboard, runs, entropy analyses) and fetches each problem's
samples and each sample's text from the server as it is opened. Exported, it holds everything it can
show, with caps (samples per problem, characters per sample) that the page states; it then needs no
server and no network.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from harness.outputs import write_atomic
from harness.view import EXPORT_CHARS, EXPORT_SAMPLES, data

# Paired comparisons precomputed in an export: all pairs among at most this many checkpoints.
EXPORT_COMPARE_LABELS = 12


def _asset(name: str) -> str:
    return resources.files("harness.view").joinpath("assets", name).read_text(encoding="utf-8")


def to_json(value: Any) -> str:
    """JSON safe to put inside <script>: no NaN/inf (as null), no '<' (so no '</script>' in model text)."""
    return json.dumps(_finite(value), separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _finite(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def render(payload: dict[str, Any]) -> str:
    html = _asset("page.html")
    return (
        html.replace("/*STYLE*/", _asset("style.css"))
        .replace("/*SCRIPT*/", _asset("app.js"))
        .replace("/*DATA*/", to_json(payload))
    )


def served_page(results: data.Results) -> str:
    return render({"mode": "served", **data.index(results)})


def export_payload(
    results: data.Results, *, max_samples: int = EXPORT_SAMPLES, max_chars: int = EXPORT_CHARS
) -> dict[str, Any]:
    """Everything an exported page shows, with the caps applied and recorded."""
    idx = data.index(results)
    problems, samples = {}, {}
    total = embedded = 0
    for rid, run in results.runs.items():
        for task, pids in idx["runs"][rid]["problems"].items():
            for pid in pids:
                p = data.problem_samples(results, rid, task, pid, budgets=run.requested)
                problems[f"{rid}|{task}|{pid}"] = p
                total += len(p["samples"])
                for s in p["samples"][:max_samples]:
                    detail = data.sample_detail(results, rid, task, pid, s["idx"])
                    samples[f"{rid}|{task}|{pid}|{s['idx']}"] = _cap(detail, max_chars)
                    embedded += 1
    labels = idx["labels"][:EXPORT_COMPARE_LABELS]
    compare = {f"{a}|{b}": data.compare_pair(results, a, b) for a, b in itertools.combinations(labels, 2)}
    histograms = {
        eid: _data_uri(results.entropy[[e.id for e in results.entropy].index(eid)].dir / "histogram.png")
        for eid, e in idx["entropy"].items()
        if e["histogram"]
    }
    return {
        "mode": "export",
        **idx,
        "problems": problems,
        "samples": samples,
        "compare": compare,
        "histograms": histograms,
        "caps": {
            "max_samples": max_samples,
            "max_chars": max_chars,
            "embedded": embedded,
            "total": total,
            "compare_labels": len(labels),
            "labels": len(idx["labels"]),
        },
    }


def _cap(detail: dict, max_chars: int) -> dict:
    """The sample with its text (and entropy tokens) cut to max_chars characters; marks what was cut."""
    text = detail["text"]
    if len(text) <= max_chars:
        return detail
    out = dict(detail, text=text[:max_chars], text_chars=len(text))
    kept = []
    for e in detail["entropy"]:
        used, tokens = 0, []
        for tok in e["tokens"]:
            used += len(tok[0])
            if used > max_chars:
                break
            tokens.append(tok)
        kept.append(dict(e, tokens=tokens, token_count=len(e["tokens"])))
    out["entropy"] = kept
    return out


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def write_export(results: data.Results, out: str | Path, **caps) -> Path:
    """Write the self-contained page atomically (a temporary file renamed into place; nothing left on failure)."""
    html = render(export_payload(results, **caps))
    return write_atomic(out, lambda tmp: tmp.write_text(html, encoding="utf-8"), "--export")
