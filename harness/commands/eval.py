"""`harness eval --ckpt PATH`: sample a checkpoint on benchmark tasks, score every budget, store every sample.

Flags are checked here, in order from cheap to expensive, and every failure is one line with exit code 2
before any model is loaded and before anything is written. The work itself is `harness.evaluate`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import eval_defaults
from harness.backends import BACKENDS
from harness.backends.openai_compat import APIS
from harness.errors import UsageError
from harness.outputs import writable_dir
from tasks.policy import DEFAULT_POLICY, POLICIES
from tasks.templates import TEMPLATES


class _Defaults(argparse.HelpFormatter):
    """Every option's help ends with its default (none shown for flags that are off or unset)."""

    def _get_help_string(self, action):
        text = action.help or ""
        off = (
            action.default is None
            or action.default is False
            or action.default == []
            or action.default == argparse.SUPPRESS
        )
        if not off and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def register(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a checkpoint: generate, score every budget, store every sample",
        formatter_class=_Defaults,
    )
    p.add_argument(
        "--ckpt",
        required=True,
        help="local checkpoint folder (config.json, tokenizer, weights); for --backend openai, a local copy of "
        "the served model's config and tokenizer (weights optional)",
    )
    p.add_argument(
        "--tasks",
        default=",".join(eval_defaults.TASKS),
        help="comma-separated task specs: aime24, aime25, aime26, synthetic:size=N, file:PATH, or a registered "
        "name (`harness tasks` lists them)",
    )
    p.add_argument("--n", type=int, default=eval_defaults.N, help="samples per problem")
    p.add_argument("--temperature", type=float, default=eval_defaults.TEMPERATURE, help="sampling temperature")
    p.add_argument(
        "--top-p", type=float, default=eval_defaults.TOP_P, help="nucleus sampling: smallest token set of this mass"
    )
    p.add_argument(
        "--max-tokens",
        default=",".join(map(str, eval_defaults.BUDGETS)),
        help="comma-separated budgets; generated once at the largest, smaller ones scored by cutting",
    )
    p.add_argument(
        "--budget-curve", type=int, metavar="STEP", help="also score every STEP tokens below the largest budget"
    )
    p.add_argument("--template", default=eval_defaults.TEMPLATE, help=f"prompt template ({', '.join(TEMPLATES)})")
    p.add_argument(
        "--system-prompt", metavar="TEXT", help="a system message before every prompt (recorded in the run id)"
    )
    p.add_argument(
        "--chat-template-kwargs",
        metavar="JSON",
        help="the chat template's switches, e.g. '{\"enable_thinking\": false}' for Qwen3 (recorded in the run id)",
    )
    p.add_argument(
        "--force-answer",
        action="store_true",
        help="also grade what each sample cut before it answered says when made to answer at the budget (its "
        "first B tokens, the end of the thought, the template's answer prefix, then up to --force-tokens tokens "
        "at temperature 0, ending with the answer's line), beside the natural verdict",
    )
    p.add_argument("--force-tokens", type=int, default=32, help="--force-answer: new tokens a forced answer may take")
    p.add_argument(
        "--answer-policy",
        default=DEFAULT_POLICY,
        choices=POLICIES,
        help="what a response, cut by the budget or not, has answered (tasks/policy.py); rerun with another "
        "policy, or `harness regrade`, to grade the stored samples under it without generating",
    )
    p.add_argument(
        "--backend",
        default="vllm",
        choices=BACKENDS,
        help="vllm: engine in this machine; hf: transformers; openai: an OpenAI-compatible server",
    )
    p.add_argument("--out", default="results", help="output folder: OUT/runs/<run id>/ and OUT/leaderboard.parquet")
    p.add_argument("--limit", type=int, help="only the first N problems of each task")
    p.add_argument("--seed", type=int, default=0, help="base seed; each sample gets its own seed derived from it")
    p.add_argument(
        "--data", help="local task data (.jsonl/.parquet file or folder; default $HARNESS_DATA_DIR, else the hub)"
    )
    p.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm: GPUs per engine")
    p.add_argument(
        "--data-parallel-size", type=int, default=1, help="vllm: independent engine replicas, one process each"
    )
    p.add_argument(
        "--base-url",
        action="append",
        default=[],
        help="openai: server base URL ending in /v1 (repeat or comma-separate for a fleet)",
    )
    p.add_argument("--model-name", help="openai: served model name (default: the server's first model)")
    p.add_argument("--concurrency", type=int, default=64, help="openai: requests in flight at most")
    p.add_argument(
        "--api",
        default="auto",
        choices=APIS,
        help="openai: /chat/completions with the messages, /completions with the exact prompt ids the offline "
        "backends build (needed by --force-answer), or auto: completions when the tokenizer has no chat template",
    )
    p.add_argument("--flush-secs", type=float, default=5.0, help="store finished samples at least this often")
    p.add_argument("--no-leaderboard", action="store_true", help="do not add the run to OUT/leaderboard.parquet")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="vllm: its warnings too (on stderr); by default only its errors",
    )
    p.add_argument("--dp-rank", type=int, help=argparse.SUPPRESS)  # set by the data-parallel parent
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = check(args)
    from harness import evaluate

    plan = evaluate.plan(cfg)
    if args.dp_rank is not None:
        evaluate.execute(plan, dp_rank=args.dp_rank, progress=False)
        return 0
    info = evaluate.execute(plan, progress=not args.no_progress)
    rows, board = evaluate.finish(plan, info, leaderboard=cfg.leaderboard)
    print(f"run {plan.run_id}: {plan.run_dir}")
    print(evaluate.summary(rows, cfg.answer_policy))
    if board is not None:
        print(f"leaderboard: {board}")
    return 0


def check(args: argparse.Namespace):
    """Flags to an EvalConfig, or a UsageError naming the first problem."""
    from harness.evaluate import EvalConfig
    from tasks import checkpoints

    budgets = _ints(args.max_tokens, "--max-tokens")
    if args.n < 1:
        raise UsageError(f"--n must be at least 1 (got {args.n})")
    if any(b < 1 for b in budgets):
        raise UsageError(f"--max-tokens budgets must be positive (got {args.max_tokens})")
    if args.force_tokens < 1:
        raise UsageError(f"--force-tokens must be at least 1 (got {args.force_tokens})")
    if args.budget_curve is not None and args.budget_curve < 1:
        raise UsageError(f"--budget-curve must be positive (got {args.budget_curve})")
    if args.temperature < 0:
        raise UsageError(f"--temperature must be >= 0 (got {args.temperature})")
    if not 0 < args.top_p <= 1:
        raise UsageError(f"--top-p must be in (0, 1] (got {args.top_p})")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1 (got {args.limit})")
    if args.tensor_parallel_size < 1 or args.data_parallel_size < 1:
        raise UsageError("--tensor-parallel-size and --data-parallel-size must be at least 1")
    if args.data_parallel_size > 1 and args.backend != "vllm":
        raise UsageError("--data-parallel-size is for --backend vllm (for openai, pass one --base-url per replica)")
    import tasks

    task_names = tasks.split_names(args.tasks)
    if not task_names:
        raise UsageError("--tasks is empty")
    ckpt = Path(args.ckpt)
    served = args.backend == "openai"  # a local copy of the served model's config and tokenizer: no weights needed
    bad = checkpoints.error(args.ckpt, weights=() if served else checkpoints.WEIGHT_SUFFIXES, whole=not served)
    if bad:
        raise UsageError(bad)
    import tasks

    tasks.get_template(args.template)  # TaskError -> exit 2 with the known names
    from tasks.prompts import PromptSwitches

    switches = PromptSwitches.parse(args.system_prompt, args.chat_template_kwargs)  # TaskError -> exit 2
    writable_dir(args.out, "--out")
    base_urls = [u.strip() for arg in args.base_url for u in arg.split(",") if u.strip()]
    model_name = args.model_name
    if args.backend == "openai":
        if not base_urls:
            raise UsageError("--backend openai needs --base-url")
        from harness.backends.openai_compat import served_models

        for url in base_urls:
            models = served_models(url)
            if model_name is None:
                if not models:
                    raise UsageError(f"server {url} serves no model")
                model_name = next(iter(models))
            if model_name not in models:
                raise UsageError(f"server {url} does not serve {model_name!r} (it serves {', '.join(models)})")
            context = models[model_name]
            if context is not None and max(budgets) >= context:
                raise UsageError(
                    f"budget {max(budgets)} does not fit the context of {model_name!r} on {url} ({context} tokens)"
                )
    elif base_urls:
        raise UsageError("--base-url is only for --backend openai")
    if args.backend == "openai" and args.force_answer and args.api != "completions":
        raise UsageError(
            "--force-answer on the openai backend needs --api completions (a chat turn cannot continue ids)"
        )
    return EvalConfig(
        ckpt=str(ckpt),
        tasks=task_names,
        n=args.n,
        temperature=args.temperature,
        top_p=args.top_p,
        budgets=budgets,
        budget_curve=args.budget_curve,
        template=args.template,
        answer_policy=args.answer_policy,
        force_answer=args.force_answer,
        force_tokens=args.force_tokens,
        system_prompt=switches.system_prompt,
        chat_template_kwargs=switches.chat_template_kwargs,
        backend=args.backend,
        out=args.out,
        limit=args.limit,
        seed=args.seed,
        data=args.data,
        tensor_parallel_size=args.tensor_parallel_size,
        data_parallel_size=args.data_parallel_size,
        base_urls=base_urls,
        model_name=model_name,
        concurrency=args.concurrency,
        api=args.api,
        flush_secs=args.flush_secs,
        leaderboard=not args.no_leaderboard,
        verbose=args.verbose,
    )


def _ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated integers (got {text!r})") from None
    if not values:
        raise UsageError(f"{flag} is empty")
    return values
