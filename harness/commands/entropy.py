"""`harness entropy`: per-token entropy of a checkpoint over stored responses, and two checkpoints compared.

    harness entropy --run RUN_ID [--ckpt PATH]          # default checkpoint: the one that generated the run
    harness entropy --samples FILE.parquet --ckpt PATH
    harness entropy --run RUN_ID --compare CKPT_A CKPT_B
    harness entropy --premise --ckpt BASE --data SPEC [--template T --temperature T --max-tokens N]

Writes to --out (default RESULTS/entropy/<run id>-<checkpoint name>): tokens.parquet (one row per response
token), summary.md, forking_tokens.md, histogram.png; with --compare: compare.md and compare_tokens.parquet;
with --premise (the base checkpoint sampled on the training prompts, the paper's premise beside its figures,
`harness.entropy.premise`; default --out RESULTS/entropy/premise-<checkpoint name>): premise.md, premise.json.
Flags, files, tokenizers and prompts are checked (one line, exit 2) before any model is loaded. The work
is `harness.entropy`: `analysis` (plan, execute) over `measure`, `stats`, `report`; the prompts are the run's own
(`harness.stored_prompts`: its template, system prompt and chat template switches).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path

from harness.backends import LOCAL_BACKENDS
from harness.entropy import DTYPES
from harness.errors import UsageError
from harness.outputs import writable_dir
from tasks import checkpoints
from tasks.files import atomic_write_json

PREMISE_ONLY = (
    "config",
    "template",
    "max_tokens",
    "max_prompt_tokens",
    "top_p",
    "responses",
    "per_prompt",
    "seed",
    "backend",
    "system_prompt",
    "chat_template_kwargs",
)


def register(sub) -> None:
    p = sub.add_parser(
        "entropy", help="per-token entropy over stored chains of thought; forking tokens; compare two checkpoints"
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="run id under RESULTS/runs/, or a run folder")
    src.add_argument("--samples", help="a Parquet file of sample rows (harness eval's store schema)")
    src.add_argument(
        "--premise",
        action="store_true",
        help="sample --ckpt on the training prompts of --data (or --config's) and check the paper's premise: "
        "share of H < 0.01, p50/p80/p95, top-rho entropy mass and tokens beside the paper's, one verdict line",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument("--ckpt", help="checkpoint to measure (default with --run: the run's own checkpoint)")
    who.add_argument(
        "--compare",
        nargs=2,
        metavar=("CKPT_A", "CKPT_B"),
        help="two checkpoints over the same responses: top-rho overlap, entropy change",
    )
    p.add_argument("--results", default="results", help="folder holding runs/ (default results)")
    p.add_argument("--out", help="output folder (default RESULTS/entropy/<run id>-<checkpoint name>)")
    p.add_argument(
        "--data",
        help="task data the samples came from (default: the run's recorded source, "
        "else $HARNESS_DATA_DIR, else the hub); with --premise: the training data, as `harness train --data`",
    )
    p.add_argument(
        "--temperature",
        type=float,
        help="T in softmax(z / T) (default: the samples' sampling temperature; --premise: the run's, default 1.0); "
        "--premise samples at this T too",
    )
    p.add_argument("--rho", type=float, help="the high-entropy fraction (default 0.2; --premise: the run's)")
    premise = p.add_argument_group("--premise (defaults: --config's values, else harness train's)")
    premise.add_argument(
        "--config", help="a harness train YAML: model, data, template, temperature, top_p, lengths, rho"
    )
    premise.add_argument("--template", help="user-message template of task-style rows (harness train's, default dapo)")
    premise.add_argument("--max-tokens", type=int, help="response length (the run's max_response_tokens)")
    premise.add_argument("--max-prompt-tokens", type=int, help="longer prompts are dropped, as harness train does")
    premise.add_argument("--top-p", type=float, help="nucleus sampling (the run's top_p, default 1.0)")
    premise.add_argument("--responses", type=int, help="responses sampled (default 32)")
    premise.add_argument("--per-prompt", type=int, help="responses per prompt (default 2)")
    premise.add_argument("--seed", type=int, help="which prompts, and the sampling seeds (default 0)")
    premise.add_argument("--backend", choices=LOCAL_BACKENDS, help="sampler (default hf)")
    premise.add_argument("--system-prompt", metavar="TEXT", help="a system message before every prompt (the run's)")
    premise.add_argument(
        "--chat-template-kwargs", metavar="JSON", help="the chat template's switches (the run's), as harness eval takes"
    )
    p.add_argument("--batch-tokens", type=int, default=8192, help="padded tokens per forward pass (default 8192)")
    p.add_argument("--device", help="torch device (default cuda when present, else cpu)")
    p.add_argument(
        "--dtype",
        choices=DTYPES,
        help="model dtype (default float32 on CPU, bfloat16 on GPU)",
    )
    p.add_argument("--limit", type=int, help="only the first N samples (in stored order)")
    p.add_argument("--top", type=int, help="rows of the forking-token table (default 30; --premise 20)")
    p.add_argument("--no-plot", action="store_true", help="do not write histogram.png")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.entropy import analysis, measure

    if args.premise:
        return _premise(args)
    args.rho = 0.2 if args.rho is None else args.rho
    args.top = 30 if args.top is None else args.top
    for flag in PREMISE_ONLY:
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag.replace('_', '-')} belongs to --premise")
    table, run_dir, manifest = _check(args)
    ckpts = (
        [Path(c) for c in args.compare] if args.compare else [Path(args.ckpt or _recorded_checkpoint(table, run_dir))]
    )
    for c in ckpts:
        _check_checkpoint(c)
    plan = analysis.plan(table, manifest, ckpts, data=args.data, temperature=args.temperature)
    out = Path(args.out) if args.out else analysis.default_out(args.results, plan)
    device = measure.pick_device(args.device)
    writable_dir(out, "--out")
    result = analysis.execute(
        plan,
        out,
        device,
        rho=args.rho,
        top=args.top,
        batch_tokens=args.batch_tokens,
        dtype=args.dtype,
        plot=not args.no_plot,
        progress=not args.no_progress,
        samples=args.samples,
        command=f"harness {' '.join(sys.argv[1:])}",
        say=lambda m: print(m, file=sys.stderr),
    )
    if result.text is not None:
        print(result.text)
    else:
        a = result.summary["all"]
        print(
            f"{a['tokens']} tokens from {result.summary['samples']} samples: "
            f"{100 * a['share_below_0.01']:.1f} % below 0.01, "
            f"p50 {a['p50']:.3f}, p80 {a['p80']:.3f}, p90 {a['p90']:.3f}, p99 {a['p99']:.3f}"
        )
    print(f"wrote {out}/{', '.join(result.files)}", file=sys.stderr)
    return 0


def _premise_settings(args) -> dict:
    """harness train's defaults <- --config <- flags; the values the premise check samples with."""
    from train.config import ConfigError, TrainConfig, load_config

    if args.compare:
        raise UsageError("--premise measures one checkpoint: pass --ckpt, not --compare")
    if args.config:
        if not Path(args.config).is_file():
            raise UsageError(f"--config {args.config} is not a file")
        try:
            cfg = load_config(args.config, {})
            rho = cfg.rho if cfg.rho is not None else cfg.preset_obj().rho
        except (ConfigError, ValueError) as exc:
            raise UsageError(f"--config {args.config}: {exc}") from None
    else:
        cfg, rho = TrainConfig(model="", data=""), None
    given = {
        "model": args.ckpt,
        "data": args.data,
        "template": args.template,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "max_response_tokens": args.max_tokens,
        "max_prompt_tokens": args.max_prompt_tokens,
    }
    v = {k: getattr(cfg, k) if given[k] is None else given[k] for k in given}
    v["rho"] = args.rho if args.rho is not None else (rho if rho is not None else 0.2)
    from tasks.prompts import PromptSwitches

    run = cfg.prompt_switches()
    v["switches"] = PromptSwitches.parse(  # TaskError -> one line, exit 2
        args.system_prompt if args.system_prompt is not None else run.system_prompt,
        args.chat_template_kwargs if args.chat_template_kwargs is not None else json.dumps(run.chat_template_kwargs),
    )
    if not v["model"]:
        raise UsageError("--premise needs --ckpt (the base checkpoint) or a --config that names its model")
    if not v["data"]:
        raise UsageError("--premise needs --data (the training data, as harness train takes it) or --config")
    for name, value, ok in (
        ("--temperature", v["temperature"], v["temperature"] > 0),
        ("--top-p", v["top_p"], 0 < v["top_p"] <= 1),
        ("--rho", v["rho"], 0 < v["rho"] <= 1),
        ("--max-tokens", v["max_response_tokens"], v["max_response_tokens"] >= 1),
        ("--max-prompt-tokens", v["max_prompt_tokens"], v["max_prompt_tokens"] >= 1),
        ("--responses", args.responses, args.responses is None or args.responses >= 1),
        ("--per-prompt", args.per_prompt, args.per_prompt is None or args.per_prompt >= 1),
        ("--batch-tokens", args.batch_tokens, args.batch_tokens >= 1),
        ("--top", args.top, args.top is None or args.top >= 1),
    ):
        if not ok:
            raise UsageError(f"{name} {value} is out of range")
    if args.run or args.samples or args.limit is not None:
        raise UsageError("--premise samples its own responses: --run, --samples and --limit do not apply")
    return v


def _premise(args) -> int:
    """`harness entropy --premise`: sample the base checkpoint on the training prompts, the premise beside the
    paper's figures, one verdict line (harness.entropy.premise)."""

    from harness.entropy import analysis, measure, premise
    from train.config import ConfigError
    from train.data import load_items

    v = _premise_settings(args)
    ckpt = Path(v["model"])
    _check_checkpoint(ckpt)
    try:
        items = load_items(v["data"], v["template"])
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out) if args.out else Path(args.results) / "entropy" / f"premise-{ckpt.name}"
    device = measure.pick_device(args.device)
    writable_dir(out, "--out")
    result = premise.check(
        ckpt,
        [it.messages for it in items],
        temperature=v["temperature"],
        top_p=v["top_p"],
        max_tokens=v["max_response_tokens"],
        max_prompt_tokens=v["max_prompt_tokens"],
        switches=v["switches"],
        rho=v["rho"],
        responses=args.responses or 32,
        per_prompt=args.per_prompt or 2,
        seed=args.seed or 0,
        backend=args.backend or "hf",
        device=str(device),
        dtype=args.dtype,
        batch_tokens=args.batch_tokens,
        top=args.top or 20,
        progress=not args.no_progress,
        say=lambda m: print(m, file=sys.stderr),
    )
    result.settings.update(data=v["data"], template=v["template"], prompts_available=len(items))
    if not v["switches"].default:
        result.settings.update(v["switches"].record())
    header = [
        f"training prompts: `{v['data']}` ({len(items)} prompts), template `{v['template']}`"
        + (f", settings from `{args.config}`" if args.config else ""),
        analysis.machine_line(device),
        f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; command: `harness {' '.join(sys.argv[1:])}`",
    ]
    text = premise.markdown(result, header)
    out.mkdir(parents=True, exist_ok=True)
    (out / "premise.md").write_text(text)
    # written last, atomically: its presence means a finished check
    atomic_write_json(out / "premise.json", {**result.to_json(), "header": header})
    print(text)
    print(f"wrote {out}/premise.md, premise.json", file=sys.stderr)
    return 0


def _check(args):
    """Flags and the samples themselves, cheapest first; returns (samples table, run folder or None, manifest)."""
    from harness import store
    from harness.entropy import measure

    if not 0 < args.rho <= 1:
        raise UsageError(f"--rho must be in (0, 1] (got {args.rho})")
    if args.temperature is not None and args.temperature <= 0:
        raise UsageError(f"--temperature must be > 0 (got {args.temperature})")
    if args.batch_tokens < 1:
        raise UsageError(f"--batch-tokens must be at least 1 (got {args.batch_tokens})")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1 (got {args.limit})")
    if args.top < 1:
        raise UsageError(f"--top must be at least 1 (got {args.top})")
    if not (args.compare or args.no_plot or importlib.util.find_spec("matplotlib")):
        raise UsageError("the histogram needs matplotlib: pip install 'rlvr-harness[plots]', or pass --no-plot")
    run_dir, manifest = None, None
    if args.run:
        run_dir = Path(args.run) if Path(args.run).is_dir() else Path(args.results) / "runs" / args.run
        if not (run_dir / "manifest.json").is_file():
            raise UsageError(f"no run {args.run!r}: neither a run folder nor {run_dir} (with manifest.json)")
        try:
            manifest = store.read_manifest(run_dir)
        except ValueError as exc:
            raise UsageError(f"{run_dir}/manifest.json is not valid JSON ({exc})") from None
        table = measure.load_run_samples(run_dir, say=lambda m: print(f"entropy: {m}", file=sys.stderr))
    else:
        if not Path(args.samples).is_file():
            raise UsageError(f"--samples {args.samples} is not a file")
        table = measure.load_samples(samples=args.samples)
        if not args.ckpt and not args.compare:
            raise UsageError("--samples needs --ckpt (or --compare)")
    if args.limit:
        table = table.slice(0, args.limit)
    return table, run_dir, manifest


def _recorded_checkpoint(table, run_dir) -> str:
    from harness.entropy.measure import column

    ckpts = {c for c in column(table, "checkpoint") if c}
    if len(ckpts) != 1:
        raise UsageError(f"the samples come from {len(ckpts)} checkpoints: pass --ckpt")
    return ckpts.pop()


def _check_checkpoint(ckpt: Path) -> None:
    bad = checkpoints.error(ckpt)
    if bad:
        raise UsageError(bad)
