"""`harness study`'s report.md and PNGs, from the rows of study.parquet (harness.study.table.table_rows), and the
statistics only the report uses; `outputs` writes the three.

report.md opens with the premise check of the base model (`premise_section`, when an arm selects tokens by
entropy), then follows the paper's ablation layout: rows = arms, columns = budgets, cells = mean ± 95 % t
interval over seeds (harness.metrics.mean_ci); then each arm minus the reference arm, paired and pooled over
seeds with problems as the clusters (`pooled_delta`: harness.metrics.pooled_paired_bootstrap), the same per seed
as `harness compare` gives it (`seed_delta`), the token entropy of base vs trained checkpoints, and where the
time went.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from harness import metrics
from harness.comparison import budget_name, paired
from harness.metrics import mean_ci
from harness.study.spec import Cell, Study, rel, resolved, task_name
from harness.study.stages import base_stage, marker, premise_checks
from harness.study.table import table_rows, write_parquet
from harness.tables import render
from tasks.files import atomic_write_text

# ----------------------------------------------------------------------------- the statistics of the report


def final_rows(study: Study, rows: list[dict]) -> dict[tuple, dict]:
    """(arm, seed, task, budget) -> the row of the cell's final checkpoint."""
    steps = {c.name: c.train.steps for c in study.cells}
    return {
        (r["arm"], r["seed"], r["task"], r["budget"]): r
        for r in rows
        if r["arm"] != "base" and r["step"] == steps[f"{r['arm']}-s{r['seed']}"]
    }


def _per_problem(row: dict) -> dict[str, float]:
    return {p: c / n for p, n, c in zip(row["problem_ids"], row["problem_n"], row["problem_correct"])}


@dataclass
class Delta:
    arm: str
    task: str
    budget: int
    seeds: list[int]
    diff: float
    lo: float
    hi: float
    problems: int
    verdict: str


def pooled_delta(
    study: Study,
    final: dict,
    arm: str,
    task: str,
    budget: int,
    *,
    ref: str | None = None,
    iters=metrics.BOOTSTRAP_ITERS,
    seed=metrics.BOOTSTRAP_SEED,
) -> Delta | None:
    """arm minus `ref` (default: the reference arm) over the seeds both finished, pooled: per problem the mean
    over seeds of (arm - ref), then `harness compare`'s paired bootstrap with problems as the clusters
    (harness.metrics.pooled_paired_bootstrap)."""
    ref = ref or study.reference
    seeds = [s for s in study.seeds if (arm, s, task, budget) in final and (ref, s, task, budget) in final]
    if not seeds:
        return None
    a = [_per_problem(final[(arm, s, task, budget)]) for s in seeds]
    b = [_per_problem(final[(ref, s, task, budget)]) for s in seeds]
    pooled = metrics.pooled_paired_bootstrap(a, b, iters=iters, seed=seed)
    if pooled is None:
        return None
    diff, lo, hi, problems = pooled
    return Delta(arm, task, budget, seeds, diff, lo, hi, problems, metrics.verdict(lo, hi, names=(arm, ref)))


def arm_like(study: Study, rho: float, invert: bool = False) -> str | None:
    """The first arm that selects by entropy with this rho (and invert), else None: how the report finds the
    paper's arms (top-20 %, bottom-80 %, ...) whatever the study names them."""
    for c in study.cells:
        if (resolved(c, "rho"), bool(resolved(c, "invert")), resolved(c, "selection") in ("", "entropy")) == (
            rho,
            invert,
            True,
        ):
            return c.arm.name
    return None


def seed_delta(
    study: Study,
    final: dict,
    arm: str,
    s: int,
    task: str,
    budget: int,
    *,
    ref: str | None = None,
    iters=metrics.BOOTSTRAP_ITERS,
    seed=metrics.BOOTSTRAP_SEED,
):
    """One seed's arm minus `ref` (default: the reference arm), exactly as `harness compare ARM_RUN REF_RUN`."""
    ref = ref or study.reference
    a, b = final.get((arm, s, task, budget)), final.get((ref, s, task, budget))
    if a is None or b is None:
        return None
    return paired(a, b, (arm, ref), iters=iters, seed=seed)


def entropy_stats(study: Study, cell: Cell) -> dict | None:
    """Base vs trained over the base run's responses: top-rho overlap, share of H < 0.01, 80th percentile."""
    import numpy as np
    import pyarrow.parquet as pq

    from harness.entropy.stats import compare

    path = cell.dir / "entropy" / "compare_tokens.parquet"
    if not study.entropy or not (cell.dir / "done" / "entropy.json").is_file():
        return None
    t = pq.read_table(path, columns=["entropy_a", "entropy_b"])
    h_a, h_b = t["entropy_a"].to_numpy().astype(np.float64), t["entropy_b"].to_numpy().astype(np.float64)
    c = compare(h_a, h_b, study.entropy["rho"])
    return {
        "overlap": c.overlap_share,
        "tokens": c.tokens,
        "low_base": float((h_a < 0.01).mean()),
        "low_trained": float((h_b < 0.01).mean()),
        "p80_base": float(np.percentile(h_a, 80)),
        "p80_trained": float(np.percentile(h_b, 80)),
    }


def train_log(cell: Cell) -> list[dict]:
    """The cell's training log; an incomplete last line (an append cut short: no newline) is not a row yet."""
    path = cell.dir / "train" / "log.jsonl"
    lines = path.read_text().split("\n")[:-1] if path.is_file() else []
    return [json.loads(x) for x in lines if x.strip()]


def timing(study: Study) -> dict:
    """Seconds per arm (summed over its seeds) by where they went: rollout, update, train (whole process,
    model loading included), eval, entropy; plus the base evaluation."""
    out = {}
    for c in study.cells:
        t = out.setdefault(c.arm.name, {"rollout": 0.0, "update": 0.0, "train": 0.0, "eval": 0.0, "entropy": 0.0})
        log = train_log(c)
        t["rollout"] += sum(r.get("rollout_s", 0.0) for r in log)
        t["update"] += sum(r.get("update_s", 0.0) for r in log)
        for m in (c.dir / "done").glob("*.json") if (c.dir / "done").is_dir() else []:
            kind = m.stem.split("-")[0]
            if kind in t:  # stage markers only (pruned.json records a deletion, not a stage)
                t[kind] += marker(m)["seconds"]
    base = marker(base_stage(study).done)
    out["(base eval)"] = {"eval": base["seconds"] if base else 0.0}
    return out


# ----------------------------------------------------------------------------- report.md


def _pct(mean: float, half: float | None) -> str:
    return f"{100 * mean:.1f}" + ("" if half is None else f" ± {100 * half:.1f}")


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _md(headers: list[str], rows: list[list], align: str) -> str:
    """A Markdown table (harness.tables.render), without its final newline."""
    return render(headers, rows, "markdown", align=align).rstrip("\n")


def _settings(study: Study) -> str:
    c = study.cells[0].train
    e = study.eval
    return "\n".join(
        [
            f"- study: `{study.path}`; base checkpoint `{study.base}`; seeds {study.seeds}; reference arm `{study.reference}`",
            f"- training (common): data `{c.data}`, template `{c.template}`, {c.steps} steps x {c.prompts_per_step} prompts "
            f"x {c.group_size} responses, <= {c.max_response_tokens} response tokens, lr {c.lr:g}, T {c.temperature:g}, "
            f"backend {c.backend}" + (f", autocast {c.mixed_precision}" if c.mixed_precision else ""),
            "- arms: "
            + "; ".join(
                f"`{a.name}` " + (", ".join(f"{k}={v}" for k, v in a.overrides.items()) or "(common)")
                for a in study.arms
            ),
            f"- held-out evaluation: {', '.join(f'`{t}`' for t in e.tasks)}, n = {e.n} samples per problem, T {e.temperature:g}, "
            f"top-p {e.top_p:g}, budgets {', '.join(map(str, e.budgets))} tokens, template `{e.template}`, backend {e.backend}",
            f"- machine: {platform.machine()}, {_cpus()}; written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        ]
    )


def _cpus() -> str:
    return f"{os.cpu_count()} CPU cores"


def premise_section(study: Study) -> list[str]:
    """The report opens with the premise check of the base model (harness.entropy.premise), when an arm selects
    tokens by entropy: its verdict line per group of arms, and where its report is."""
    checks = premise_checks(study)
    if not checks:
        return []
    lines = ["## Before training: does the base model have the paper's premise?", ""]
    for _, folder, arms in checks:
        path = folder / "premise.json"
        shown = rel(study, folder / "premise.md")
        arms_text = ", ".join(f"`{a}`" for a in arms)
        if not path.is_file():
            lines.append(f"- arms {arms_text}: the premise check has not run (see `logs/{folder.name}.log`)")
            continue
        d = json.loads(path.read_text())
        lines.append(f"- arms {arms_text}: **{d['shape'].capitalize()}.** {d['line']} (`{shown}`)")
    return lines + [""]


def accuracy_table(study: Study, rows: list[dict], final: dict) -> str:
    cols = [(t, b) for t in study.eval.tasks for b in study.eval.budgets]
    headers = ["arm", "seeds"] + [f"{task_name(t)} @{budget_name(b)}" for t, b in cols]
    body = []
    base = {(r["task"], r["budget"]): r for r in rows if r["arm"] == "base"}
    if base:
        body.append(["base", "-"] + [_pct(base[c]["avg"], None) if c in base else "-" for c in cols])
    for a in study.arms:
        cells, done = [], set()
        for t, b in cols:
            vals = [final[(a.name, s, t, b)]["avg"] for s in study.seeds if (a.name, s, t, b) in final]
            done |= {s for s in study.seeds if (a.name, s, t, b) in final}
            cells.append(_pct(*mean_ci(vals)) if vals else "-")
        body.append([a.name, len(done), *cells])
    return _md(headers, body, "lr" + "r" * len(cols))


def delta_table(study: Study, final: dict) -> tuple[str, list[Delta]]:
    headers = [f"arm − {study.reference}", "task", "budget", "Δ pts", "95% CI", "seeds", "problems", "verdict"]
    body, deltas = [], []
    for a in study.arms:
        if a.name == study.reference:
            continue
        for t in study.eval.tasks:
            for b in study.eval.budgets:
                d = pooled_delta(study, final, a.name, t, b)
                if d is None:
                    continue
                deltas.append(d)
                body.append(
                    [a.name, task_name(t), b, _pts(d.diff), f"[{_pts(d.lo)}, {_pts(d.hi)}]"]
                    + [len(d.seeds), d.problems, d.verdict]
                )
    return _md(headers, body, "llrrlrrl"), deltas


def seed_table(study: Study, final: dict) -> str:
    headers = [f"arm − {study.reference}", "seed", "task", "budget", "Δ pts", "95% CI", "problems", "verdict"]
    body = []
    for a in study.arms:
        if a.name == study.reference:
            continue
        for s in study.seeds:
            for t in study.eval.tasks:
                for b in study.eval.budgets:
                    p = seed_delta(study, final, a.name, s, t, b)
                    if p is not None:
                        body.append(
                            [a.name, s, task_name(t), b, _pts(p.diff), f"[{_pts(p.lo)}, {_pts(p.hi)}]"]
                            + [p.problems, p.verdict]
                        )
    return _md(headers, body, "lrlrrlrl")


def entropy_table(study: Study) -> tuple[str, dict]:
    rho = study.entropy["rho"]
    headers = ["arm", "seeds", f"top-{100 * rho:g} % overlap base vs trained", "H < 0.01 base → trained"]
    headers.append("p80 of H base → trained")
    body, per_arm = [], {}
    for a in study.arms:
        stats = [st for c in study.cells if c.arm is a and (st := entropy_stats(study, c))]
        if not stats:
            continue
        per_arm[a.name] = [st["overlap"] for st in stats]

        def m(k):
            return sum(st[k] for st in stats) / len(stats)

        body.append(
            [a.name, len(stats), f"{_pct(*mean_ci(per_arm[a.name]))} %"]
            + [f"{100 * m('low_base'):.1f} % → {100 * m('low_trained'):.1f} %"]
            + [f"{m('p80_base'):.3f} → {m('p80_trained'):.3f}"]
        )
    return _md(headers, body, "lrrll"), per_arm


def loss_table(study: Study) -> str:
    """What reached the loss, per arm over its seeds' logged steps: the steps that updated (dynamic sampling
    skips a step without a group of unequal rewards), the selected fraction, and the share of tokens the
    covariance rules acted on (clip-cov / kl-cov), with the training accuracy of the rollouts."""
    headers = ["arm", "seeds", "steps that updated", "selected fraction", "cov fraction"]
    headers.append("rollout accuracy % (first → last step)")
    body = []
    for arm in study.arms:
        logs = [train_log(c) for c in study.cells if c.arm is arm]
        logs = [log for log in logs if log]
        if not logs:
            continue
        steps = [r for log in logs for r in log if "loss" in r]
        total = sum(1 for log in logs for r in log if "step" in r and "config_change" not in r)

        def mean(key, rows=steps):
            vals = [r[key] for r in rows if r.get(key) is not None]
            return sum(vals) / len(vals) if vals else None

        first = mean("accuracy", [log[0] for log in logs])
        last = mean("accuracy", [log[-1] for log in logs])
        cov = mean("cov_fraction")
        sel = mean("selected_fraction")
        body.append(
            [arm.name, len(logs), f"{len(steps)} of {total}", "-" if sel is None else f"{sel:.3f}"]
            + ["-" if cov is None else f"{cov:.4f}", f"{100 * first:.1f} → {100 * last:.1f}"]
        )
    return _md(headers, body, "lrrrrl")


def timing_table(study: Study) -> str:
    t = timing(study)
    keys = ["rollout", "update", "train", "eval", "entropy"]
    headers = ["arm (all seeds)", "rollout s", "update s", "train s (whole process)", "eval s", "entropy s"]
    body = [[arm] + [f"{v[k]:.0f}" if k in v else "-" for k in keys] for arm, v in t.items()]
    total = sum(v.get(k, 0.0) for v in t.values() for k in ("train", "eval", "entropy"))
    return _md(headers, body, "lrrrrr") + (
        f"\n\nSum of stage wall times: {total:.0f} s ({total / 60:.1f} min); rollout and update are inside "
        "train, whose remainder is process start, model and engine loading and checkpoints."
    )


def _direction(lo: float, hi: float, want: str) -> str:
    """'yes' when the interval excludes 0 on the claimed side, 'no' when on the other, else 'open'."""
    if want == "ge":  # arm >= other: shown when better, contradicted when worse
        want = "gt"
    return (
        ("yes" if lo > 0 else "no" if hi < 0 else "open")
        if want == "gt"
        else ("yes" if hi < 0 else "no" if lo > 0 else "open")
    )


def _claim(study: Study, final: dict, arm, other, t, b, want: str) -> str:
    """A claim against two intervals: the pooled paired one (problems as clusters, the trained checkpoints as
    given) and the t interval over seeds of each seed's paired Δ (seeds as the units: the recipe, not these
    runs). It shows only when both agree; seed-to-seed spread is what small RL runs are made of."""
    d = pooled_delta(study, final, arm, t, b, ref=other)
    if d is None:
        return "not measured (an arm is unfinished)"
    per_seed = [p.diff for s in d.seeds if (p := seed_delta(study, final, arm, s, t, b, ref=other))]
    mean, half = mean_ci(per_seed)
    pooled = _direction(d.lo, d.hi, want)
    seeds = "open" if half is None else _direction(mean - half, mean + half, want)
    verdict = {("yes", "yes"): "shows", ("no", "no"): "contradicted"}.get((pooled, seeds), "not shown")
    seed_ci = "one seed: no interval" if half is None else f"[{_pts(mean - half)}, {_pts(mean + half)}]"
    return (
        f"**{verdict}**: pooled Δ {_pts(d.diff)} pts [{_pts(d.lo)}, {_pts(d.hi)}] ({d.problems} problems); "
        f"over {len(per_seed)} seeds {_pts(mean)} {seed_ci} (per seed: {', '.join(_pts(x) for x in per_seed)})"
    )


def claims(study: Study, final: dict) -> str:
    """The paper's ablation claims, each against its paired deltas at every budget."""
    top, all_, bottom = arm_like(study, 0.2), arm_like(study, 1.0), arm_like(study, 0.8, True)
    ten, fifty = arm_like(study, 0.1), arm_like(study, 0.5)
    body = []
    for t in study.eval.tasks:
        for b in study.eval.budgets:
            for text, arm, other, want in (
                (f"top-20 % ({top}) >= all tokens ({all_})", top, all_, "ge"),
                (f"bottom-80 % ({bottom}) worse than all tokens ({all_})", bottom, all_, "lt"),
                (f"top-10 % ({ten}) below top-20 % ({top})", ten, top, "lt"),
                (f"top-50 % ({fifty}) below top-20 % ({top})", fifty, top, "lt"),
            ):
                if arm and other:  # a claim whose arms the study does not have is left out, not "unmeasured"
                    body.append([text, task_name(t), b, _claim(study, final, arm, other, t, b, want)])
    if not body:
        return (
            "None applies: the study has no arm pair a claim compares (top-20 %, 10 %, 50 %, bottom-80 %, all tokens)."
        )
    return _md(["claim", "task", "budget", "at this scale"], body, "llrl")


def markdown(study: Study, rows: list[dict]) -> str:
    final = final_rows(study, rows)
    missing = [
        c.name
        for c in study.cells
        if not all((c.arm.name, c.seed, t, b) in final for t in study.eval.tasks for b in study.eval.budgets)
    ]
    parts = [f"# Study `{study.path}`", "", _settings(study), "", *premise_section(study)]
    if missing:
        parts += [
            f"**Unfinished cells ({len(missing)} of {len(study.cells)}), not in the tables:** " + ", ".join(missing),
            "",
        ]
    parts += [
        "## Held-out accuracy of the final checkpoints (avg@n %, mean ± 95 % t interval over seeds)",
        "",
        accuracy_table(study, rows, final),
        "",
    ]
    dtab, _ = delta_table(study, final)
    parts += [
        f"## Each arm minus `{study.reference}`, paired, pooled over seeds (problems as clusters)",
        "",
        "Per problem, the mean over seeds of (arm − reference) accuracy; 95 % paired bootstrap over problems "
        f"({metrics.BOOTSTRAP_ITERS} resamples, seed {metrics.BOOTSTRAP_SEED}), as `harness compare`.",
        "",
        dtab,
        "",
        "### The same per seed (exactly `harness compare ARM_RUN REFERENCE_RUN`)",
        "",
        seed_table(study, final),
        "",
    ]
    parts += [
        "## The paper's claims at this scale",
        "",
        "Each claim against two intervals: the pooled paired bootstrap above (problems as clusters; it takes "
        "these trained checkpoints as given) and a 95 % t interval over seeds of each seed's paired Δ (seeds "
        "as the units: the training recipe). A claim shows only when both exclude 0 on its side; "
        "contradicted only when both exclude 0 on the other side.",
        "",
        claims(study, final),
        "",
    ]
    if study.entropy:
        etab, _ = entropy_table(study)
        parts += [
            "## Token entropy, base vs final checkpoint, over the base model's held-out responses",
            "",
            "Overlap: share of the base's top-ρ entropy positions that are also top-ρ for the trained "
            "checkpoint (the paper: > 86 % on Qwen3-14B); mean ± 95 % t interval over seeds.",
            "",
            etab,
            "",
        ]
    parts += ["## What reached the loss (training logs)", "", loss_table(study), ""]
    parts += ["## Where the time went", "", timing_table(study), ""]
    return "\n".join(parts)


# ----------------------------------------------------------------------------- PNGs


def _band(ax, xs, series, label):
    """Mean over seeds with a min-max band."""
    import numpy as np

    y = np.array(series, dtype=float)
    mean = np.nanmean(y, axis=0)
    (line,) = ax.plot(xs, mean, "-o", ms=3, label=label)
    if len(series) > 1:
        ax.fill_between(xs, np.nanmin(y, axis=0), np.nanmax(y, axis=0), alpha=0.15, color=line.get_color())


def pngs(study: Study, rows: list[dict]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from harness.plots import save_figure

    written = []
    base = {(r["task"], r["budget"]): r["avg"] for r in rows if r["arm"] == "base"}
    cols = [(t, b) for t in study.eval.tasks for b in study.eval.budgets]
    fig, axes = plt.subplots(1, len(cols), figsize=(5 * len(cols), 4), squeeze=False)
    for ax, (t, b) in zip(axes[0], cols):
        for a in study.arms:
            series = []
            for c in (c for c in study.cells if c.arm is a):
                pts = {
                    r["step"]: r["avg"]
                    for r in rows
                    if r["arm"] == a.name and r["seed"] == c.seed and r["task"] == t and r["budget"] == b
                }
                if (t, b) in base:
                    pts[0] = base[(t, b)]
                steps = [0] + study.eval_steps(c)
                if all(s in pts for s in steps):
                    series.append([100 * pts[s] for s in steps])
            if series:
                _band(ax, [0] + study.eval_steps(study.cells[0]), series, f"{a.name} ({len(series)} seeds)")
        ax.set(title=f"{task_name(t)} @ {b} tokens", xlabel="training step", ylabel="held-out avg@n (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    written.append(save_figure(fig, study.out / "accuracy_vs_step.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    for a in study.arms:
        logs = [[r.get("accuracy") for r in train_log(c) if "step" in r] for c in study.cells if c.arm is a]
        logs = [lg for lg in logs if lg]
        if logs and len({len(lg) for lg in logs}) == 1:
            _band(ax, list(range(1, len(logs[0]) + 1)), [[100 * v for v in lg] for lg in logs], a.name)
    ax.set(title="training rollouts: share correct per step", xlabel="training step", ylabel="correct (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    written.append(save_figure(fig, study.out / "train_accuracy_vs_step.png"))

    qs = ("entropy_p50", "entropy_p80", "entropy_p95")
    fig, axes = plt.subplots(1, len(qs), figsize=(15, 4), squeeze=False)
    for ax, q in zip(axes[0], qs):
        for a in study.arms:
            logs = [[r.get(q) for r in train_log(c) if "step" in r] for c in study.cells if c.arm is a]
            logs = [[float("nan") if v is None else v for v in lg] for lg in logs if lg]
            if logs and len({len(lg) for lg in logs}) == 1:
                _band(ax, list(range(1, len(logs[0]) + 1)), logs, a.name)
        ax.set(title=f"rollout token entropy, {q.split('_')[1]}", xlabel="training step", ylabel="entropy (nats)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    written.append(save_figure(fig, study.out / "entropy_vs_step.png"))

    if study.entropy:
        _, per_arm = entropy_table(study)
        if per_arm:
            fig, ax = plt.subplots(figsize=(1.2 * len(per_arm) + 2, 4))
            names = list(per_arm)
            means = [100 * mean_ci(per_arm[n])[0] for n in names]
            halves = [100 * (mean_ci(per_arm[n])[1] or 0) for n in names]
            ax.bar(names, means, yerr=halves, capsize=4, color="tab:blue", alpha=0.7)
            for i, n in enumerate(names):
                ax.plot([i] * len(per_arm[n]), [100 * v for v in per_arm[n]], "k.", ms=4)
            ax.set(
                ylabel=f"top-{100 * study.entropy['rho']:g} % position overlap (%)",
                ylim=(0, 100),
                title="entropy positions kept: base vs trained (dots: seeds)",
            )
            ax.tick_params(axis="x", rotation=30)
            written.append(save_figure(fig, study.out / "entropy_overlap.png"))
    return written


# ----------------------------------------------------------------------------- writing them


def plots_missing() -> str | None:
    """Why the PNGs cannot be drawn here (matplotlib absent or broken), or None. Imported, not just found:
    a study checks this before hours of work, not after."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def outputs(study: Study, plots: bool = True) -> list[Path]:
    """study.parquet, report.md and (with `plots`) the PNGs in the study folder, from whatever has finished."""
    rows = table_rows(study)
    study.out.mkdir(parents=True, exist_ok=True)
    written = [write_parquet(study, rows, study.out / "study.parquet")]
    report = markdown(study, rows)
    atomic_write_text(study.out / "report.md", report)
    written.append(study.out / "report.md")
    if plots:
        written += pngs(study, rows)
    return written
