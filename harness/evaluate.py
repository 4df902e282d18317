"""`harness eval`, the library half: plan a run, generate what is missing, score every budget, store, summarise.

The command module (`harness/commands/eval.py`) parses and checks flags; everything here runs after the
checks passed. The flow is: `plan()` (tasks, prompts, run id; no model loaded) -> `execute()` (lock the
run folder, generate the missing samples and store them as they finish, fill in missing budgets) ->
`summary()` of the leaderboard rows scored from exactly the requested samples.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from harness import __version__, eval_defaults, forcing, regrade, repetition, store
from harness.backends import Request, SamplingParams, chat_prompt_ids, load_tokenizer, make_sampler
from harness.budgets import budget_list, cut, thought_length, thought_split
from harness.errors import UsageError
from tasks.policy import DEFAULT_POLICY


@dataclass
class EvalConfig:
    ckpt: str
    tasks: list[str]
    n: int = eval_defaults.N
    temperature: float = eval_defaults.TEMPERATURE
    top_p: float = eval_defaults.TOP_P
    budgets: list[int] = field(default_factory=lambda: list(eval_defaults.BUDGETS))
    budget_curve: int | None = None
    template: str = eval_defaults.TEMPLATE
    backend: str = "vllm"
    out: str = "results"
    limit: int | None = None
    seed: int = 0
    data: str | None = None
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    base_urls: list[str] = field(default_factory=list)
    model_name: str | None = None
    concurrency: int = 64
    api: str = "auto"  # openai: chat | completions (the prompt ids) | auto (completions without a chat template)
    flush_secs: float = 5.0
    grade_timeout: float = 1.0
    answer_policy: str = DEFAULT_POLICY  # what a response (cut or not) has answered: tasks/policy.py
    system_prompt: str | None = None  # a system message before every prompt (tasks.prompts.PromptSwitches)
    chat_template_kwargs: dict = field(default_factory=dict)  # the chat template's switches: {"enable_thinking": false}
    force_answer: bool = False  # continue samples cut before they answered and grade that too (harness/forcing.py)
    force_tokens: int = 32  # new tokens a forced answer may take, at temperature 0
    leaderboard: bool = True
    verbose: bool = False  # vllm: its warnings too (on stderr); by default errors only


@dataclass
class Plan:
    config: EvalConfig
    run_id: str
    run_dir: Path
    fingerprint: str
    tasks: list  # tasks.Task, limited
    template: object
    tokenizer: object
    prompts: dict  # (task, problem_id) -> (prompt ids, messages)
    budgets: list[int]  # every scored budget (requested + curve), ascending
    max_model_len: int
    wanted: list[tuple[str, str, int]]  # (task, problem_id, sample_idx) this invocation asks for

    @property
    def gen_budget(self) -> int:
        return max(self.config.budgets)

    @cached_property
    def problems(self) -> dict:
        """(task, problem_id) -> tasks.Problem."""
        return {(t.name, q.id): q for t, problems in self.tasks for q in problems}

    @cached_property
    def task_hashes(self) -> dict[str, str]:
        return {t.name: t.content_hash for t, _ in self.tasks}


def plan(cfg: EvalConfig) -> Plan:
    """Everything that can go wrong with the user's input, checked before any model is loaded."""
    import tasks as tasks_mod
    from tasks.prompts import PromptSwitches

    template = tasks_mod.get_template(cfg.template)
    switches = PromptSwitches(cfg.system_prompt, cfg.chat_template_kwargs)
    loaded = []
    for name in cfg.tasks:
        task = tasks_mod.load(name, source=cfg.data)
        loaded.append((task, task.problems[: cfg.limit] if cfg.limit else task.problems))

    tokenizer = load_tokenizer(cfg.ckpt)
    prompts = {}
    for task, problems in loaded:
        for p in problems:
            text = template.render(p.question)
            messages = tuple(switches.messages([{"role": "user", "content": text}]))
            prompts[(task.name, p.id)] = (chat_prompt_ids(tokenizer, text, switches), messages)
    longest = max(len(ids) for ids, _ in prompts.values())
    context = _context_length(cfg.ckpt)
    gen_budget = max(cfg.budgets)
    if context is not None and longest + gen_budget + _forcing_room(cfg) > context:
        raise UsageError(
            f"budget {gen_budget} plus the longest prompt ({longest} tokens)"
            + (f" and a forced answer ({_forcing_room(cfg)} tokens)" if cfg.force_answer else "")
            + f" exceeds the model's context of {context} tokens"
        )

    fp = store.fingerprint(cfg.ckpt)
    key = {
        "fingerprint": fp,
        "backend": cfg.backend,
        "template_hash": template.hash,
        "tasks": {t.name: t.content_hash for t, _ in loaded},
        "sampling": _sampling(cfg),
    }
    if not switches.default:  # only when set: runs without switches keep the ids they always had
        key["prompt_switches"] = switches.record()
    rid = store.run_id(key)
    wanted = [(t.name, p.id, i) for t, problems in loaded for p in problems for i in range(cfg.n)]
    return Plan(
        config=cfg,
        run_id=rid,
        run_dir=Path(cfg.out) / "runs" / rid,
        fingerprint=fp,
        tasks=loaded,
        template=template,
        tokenizer=tokenizer,
        prompts=prompts,
        budgets=budget_list(cfg.budgets, cfg.budget_curve),
        max_model_len=min(context or 1 << 30, longest + gen_budget + _forcing_room(cfg)),
        wanted=wanted,
    )


def _forcing_room(cfg: EvalConfig) -> int:
    """Context a forced answer needs beyond the generation budget: its delimiter, prefix and new tokens."""
    return cfg.force_tokens + forcing.EXTRA_TOKENS if cfg.force_answer else 0


def _sampling(cfg: EvalConfig) -> dict:
    return {"temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": max(cfg.budgets), "seed": cfg.seed}


def _context_length(ckpt: str) -> int | None:
    try:
        config = json.loads((Path(ckpt) / "config.json").read_text())
    except ValueError as exc:
        raise UsageError(f"checkpoint {ckpt}: config.json is not valid JSON ({exc})") from None
    config = config.get("text_config", config)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        if isinstance(config.get(name), int):
            return config[name]
    return None


def manifest(p: Plan, **extra) -> dict:
    cfg = p.config
    return {
        "run_id": p.run_id,
        "checkpoint": cfg.ckpt,
        "fingerprint": p.fingerprint,
        "backend": cfg.backend,
        "tasks": [t.name for t, _ in p.tasks],
        "task_hashes": p.task_hashes,
        "task_sources": {t.name: t.source for t, _ in p.tasks},
        "task_kinds": {t.name: t.kind for t, _ in p.tasks},
        "answer_policy": cfg.answer_policy,
        "template": p.template.name,
        "template_hash": p.template.hash,
        "template_text": p.template.text,
        "prompt_switches": {"system_prompt": cfg.system_prompt, "chat_template_kwargs": cfg.chat_template_kwargs},
        "forcing": {
            "tokens": cfg.force_tokens,
            "answer_prefix": p.template.answer_prefix,
            "stop": list(forcing.STOP),
        }
        if cfg.force_answer
        else None,
        "sampling": _sampling(cfg),
        "budgets": sorted(cfg.budgets),
        "budget_curve": cfg.budget_curve,
        "scored_budgets": p.budgets,
        "n": cfg.n,
        "limit": cfg.limit,
        "config": asdict(cfg),
        "harness_version": __version__,
        "argv": sys.argv,
        "cwd": os.getcwd(),  # where relative paths in argv and task sources were given
        **extra,
    }


def execute(p: Plan, *, dp_rank: int | None = None, progress: bool = True) -> dict:
    """Generate and store what is missing. `dp_rank`: this process is one data-parallel worker (no lock)."""
    cfg = p.config
    p.run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    lock = None
    if dp_rank is None:
        lock = store.RunLock(p.run_dir)
        if not lock.acquire():
            lock.release()
            raise UsageError(f"run {p.run_id} in {p.run_dir} is being written by another process")
    info = None
    try:
        if dp_rank is None:
            store.clean_temporaries(p.run_dir)
            for shard, aside, reason in store.set_aside_damaged(p.run_dir):
                print(
                    f"run {p.run_id}: shard {shard.name} is damaged ({reason}): set aside as {aside.name}; "
                    "its samples are generated again",
                    file=sys.stderr,
                )
            info = manifest(p, status="running", started_at=store.now())
            store.write_manifest(p.run_dir, info)
        requests = _missing_requests(p)
        if dp_rank is not None:
            requests = [r for r in requests if _rank_of(r.key, cfg.data_parallel_size) == dp_rank]
        elif requests and cfg.data_parallel_size > 1 and cfg.backend == "vllm":
            _spawn_data_parallel(p)
            requests = _missing_requests(p)
        print(
            f"run {p.run_id}: {len(requests)} sample(s) to generate, {len(p.wanted) - len(requests)} already stored"
            + (f" (data-parallel rank {dp_rank})" if dp_rank is not None else ""),
            file=sys.stderr,
        )
        sampler, phases = None, {}
        try:
            if requests:
                t = time.time()
                sampler = _sampler(p)
                phases["engine_load_s"], t = round(time.time() - t, 3), time.time()
                if info is not None and getattr(sampler, "dtype", None):
                    info["engine_dtype"] = sampler.dtype  # the samples' numerics (vLLM's choice or ours)
                _generate(p, sampler, requests, progress)
                phases["generate_s"] = round(time.time() - t, 3)
            if dp_rank is not None:
                return {}
            _fill_missing_budgets(p)
            if cfg.force_answer:
                t = time.time()
                sampler = _force(p, sampler)
                phases["force_s"] = round(time.time() - t, 3)  # an engine started for it included
        finally:
            if sampler is not None:
                sampler.close()
        info.update(
            phase_seconds=phases,
            status="finished",
            finished_at=store.now(),
            wall_time_s=round(time.time() - started, 3),
            device=_device_name(cfg),
        )
        store.write_manifest(p.run_dir, info)
        return info
    except BaseException as exc:  # the manifest says how the run ended; the error itself goes on up
        if info is not None:
            ended = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            info.update(status=ended, ended_at=store.now(), error=_one_line(exc))
            try:
                store.write_manifest(p.run_dir, info)
            except OSError:  # the disk is full too: the manifest keeps its last state, the error below says why
                pass
        full = store.disk_full(exc, p.run_dir)
        if full is not None:
            raise full from None
        raise
    finally:
        if lock is not None:
            lock.release()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return type(exc).__name__ + (f": {text[0]}" if text else "")


def _missing_requests(p: Plan) -> list[Request]:
    done = _done_keys(p)
    out = []
    for task, pid, idx in p.wanted:
        if (task, pid, idx) in done:
            continue
        ids, messages = p.prompts[(task, pid)]
        out.append(Request((task, pid, idx), ids, messages, store.sample_seed(p.config.seed, task, pid, idx)))
    return out


def _done_keys(p: Plan) -> set:
    t = store.read_samples(p.run_dir, columns=["task", "problem_id", "sample_idx", "budget"])
    d = t.to_pydict()
    return {
        (a, b, c)
        for a, b, c, bud in zip(d["task"], d["problem_id"], d["sample_idx"], d["budget"])
        if bud == p.gen_budget
    }


def _rank_of(key, world: int) -> int:
    return store.sample_seed(0, *key) % world


def _sampler(p: Plan):
    cfg = p.config
    options: dict = {}
    if cfg.backend == "vllm":
        options = {
            "max_model_len": p.max_model_len,
            "tensor_parallel_size": cfg.tensor_parallel_size,
            "seed": cfg.seed,
            "verbose": cfg.verbose,
        }
    elif cfg.backend == "openai":
        options = {
            "base_urls": cfg.base_urls,
            "model": cfg.model_name,
            "concurrency": cfg.concurrency,
            "api": cfg.api,
            "chat_template_kwargs": cfg.chat_template_kwargs,
        }
    try:
        return make_sampler(cfg.backend, cfg.ckpt, p.tokenizer, **options)
    except UsageError:  # the backend's own one line (e.g. --api chat for a tokenizer without a chat template)
        raise
    except Exception as exc:  # noqa: BLE001 (a damaged or unloadable checkpoint: one line, the manifest says why)
        raise UsageError(
            f"checkpoint {cfg.ckpt}: the {cfg.backend} backend cannot load it ({_one_line(exc)})"
        ) from None


def _force(p: Plan, sampler):
    """The forcing pass (harness/forcing.py) with the generation's sampler, started here when generation needed
    none (a rerun); returns the sampler to close."""
    todo = forcing.candidates(p.run_dir, p.config.answer_policy, set(p.wanted))
    if not todo:
        return sampler
    sampler = sampler or _sampler(p)
    decode = lambda ids: p.tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
    kinds = {t.name: t.kind for t, _ in p.tasks}
    opens = lambda ids: prompt_opens_thought(p.tokenizer, ids)  # noqa: E731
    n = forcing.force(p, sampler, todo, decode=decode, kinds=kinds, opens=opens, timeout=p.config.grade_timeout)
    print(f"run {p.run_id}: {n} cut sample(s) forced to answer", file=sys.stderr)
    return sampler


def _generate(p: Plan, sampler, requests: list[Request], progress: bool) -> None:
    from tqdm import tqdm

    cfg = p.config
    params = SamplingParams(cfg.temperature, cfg.top_p, p.gen_budget)
    # Grading and writing happen on one background thread, so the engine keeps stepping meanwhile.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-store")
    flushes = []

    def flush(finished):
        for f in flushes:
            if f.done():
                f.result()  # a failed write stops the run now, not hours later
        if finished:
            flushes.append(writer.submit(lambda: store.write_shard(p.run_dir, _rows(p, finished, p.budgets))))

    buffer, last = [], time.time()
    bar = tqdm(total=len(requests), desc=f"eval {p.run_id}", unit="sample", disable=not progress, file=sys.stderr)
    try:
        try:
            for request, sample in sampler.sample(requests, params):
                buffer.append((request, sample, store.now()))
                bar.update(1)
                if time.time() - last >= cfg.flush_secs:
                    flush(buffer)
                    buffer, last = [], time.time()
        finally:  # on an error or Ctrl-C too: keep every sample that finished
            flush(buffer)
            writer.shutdown(wait=True)
        for f in flushes:
            f.result()  # re-raise a failed write
    finally:
        bar.close()


def _rows(p: Plan, finished, budgets) -> list[dict]:
    """Score finished samples at `budgets` under the run's answer policy and build their store rows (the full
    text and ids on the generation-budget row only)."""
    cfg = p.config
    kinds = {t.name: t.kind for t, _ in p.tasks}
    decode = lambda ids: p.tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
    rows, items = [], []
    for request, sample, generated_at in finished:
        task, pid, idx = request.key
        gold = p.problems[(task, pid)].answer
        opens = prompt_opens_thought(p.tokenizer, request.prompt_ids)
        think_full = thought_length(list(sample.token_ids), sample.text, p.tokenizer, opens)
        for b in budgets:
            c = cut(sample.token_ids, sample.text, sample.finish_reason, b, decode)
            think, answer = thought_split(think_full, c["response_tokens"])
            full = b == p.gen_budget
            rows.append(
                {
                    "run_id": p.run_id,
                    "checkpoint": cfg.ckpt,
                    "fingerprint": p.fingerprint,
                    "backend": cfg.backend,
                    "task": task,
                    "task_hash": p.task_hashes[task],
                    "problem_id": pid,
                    "gold": gold,
                    "sample_idx": idx,
                    "seed": request.seed,
                    "template": p.template.name,
                    "template_hash": p.template.hash,
                    "temperature": cfg.temperature,
                    "top_p": cfg.top_p,
                    "max_tokens": p.gen_budget,
                    "budget": b,
                    "prompt_tokens": len(request.prompt_ids),
                    "response_tokens": c["response_tokens"],
                    "think_tokens": think,
                    "answer_tokens": answer,
                    "finish_reason": c["finish_reason"],
                    "truncated": c["truncated"],
                    "think_closed": "</think>" in c["text"],
                    "repetition_loop": repetition.ends_in_loop(sample.token_ids[:b]),
                    "response": sample.text if full else None,
                    "token_ids": list(sample.token_ids) if full else None,
                    "harness_version": __version__,
                    "generated_at": generated_at,
                }
            )
            items.append((c["text"], gold, kinds[task], c["truncated"]))
    for row, g in zip(rows, regrade.grade_cuts(items, cfg.answer_policy, cfg.grade_timeout)):
        row.update(regrade.verdict_columns(g, cfg.answer_policy))
    return rows


def prompt_opens_thought(tokenizer, prompt_ids) -> bool:
    """The chat template opened the thought for the model (DeepSeek-R1's distills end the prompt with `<think>`):
    its response then starts inside the thought."""
    return tokenizer.decode(list(prompt_ids[-8:]), skip_special_tokens=False).rstrip().endswith("<think>")


def _fill_missing_budgets(p: Plan) -> None:
    """A rerun that asks for a new budget (below the generation budget) or another answer policy scores it from
    the stored ids (harness/regrade.py)."""
    decode = lambda ids: p.tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
    kinds = {t.name: t.kind for t, _ in p.tasks}
    regrade.fill(
        p.run_dir, p.config.answer_policy, p.budgets, decode=decode, kinds=kinds, timeout=p.config.grade_timeout
    )


def requested_samples(p: Plan, budgets: list[int] | None = None):
    """The rows this invocation asked for (its tasks, problems, n and budgets), without text and ids, under every
    answer policy the store holds for them (the run's own, and any added by `harness regrade`).

    `budgets`: only these scored budgets (default: all of them, budget-curve points included).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = [c for c in store.SCHEMA.names if c not in ("response", "token_ids")]
    t = store.read_samples(p.run_dir, columns=cols)
    keys = pa.array([f"{a}\0{b}\0{c}" for a, b, c in p.wanted])
    joined = pc.binary_join_element_wise(t["task"], t["problem_id"], pc.cast(t["sample_idx"], pa.string()), "\0")
    budgets = pa.array(p.budgets if budgets is None else budgets, pa.int64())
    mask = pc.and_(pc.is_in(joined, value_set=keys), pc.is_in(t["budget"], value_set=budgets))
    t = t.filter(mask)
    return store.with_forced(p.run_dir, t) if p.config.force_answer else t


def finish(p: Plan, info: dict, *, leaderboard: bool = True) -> tuple[list[dict], Path | None]:
    """Score a finished run once: its leaderboard rows (every budget, curve points included, when they go to
    OUT/leaderboard.parquet; else only the requested budgets, for the summary). Returns (rows, the
    leaderboard file the rows were added to, or None)."""
    from harness import leaderboard as board

    table = requested_samples(p, None if leaderboard else p.config.budgets)
    if not leaderboard:
        return board.rows_for_run(table, info), None
    path = Path(p.config.out) / "leaderboard.parquet"
    try:
        return board.append_run(path, table, info), path
    except OSError as exc:
        full = store.disk_full(exc, path.parent)
        if full is None:
            raise
        raise full from None


def summary(rows: list[dict], policy: str) -> str:
    """A Markdown table, task x requested budget: avg@n ± SE under the run's answer `policy`, the forced avg@n when
    the run forced answers, avg@n under each other policy the store holds for the same samples (side by side),
    truncation rate, mean response tokens.

    `rows`: the run's leaderboard rows (`leaderboard.rows_for_run`); budget-curve points are left out.
    """
    from harness import tables

    rows = [r for r in rows if not r["curve_point"]]
    mine = sorted((r for r in rows if r["answer_policy"] == policy), key=lambda r: (r["task"], r["budget"]))
    others = sorted({r["answer_policy"] for r in rows} - {policy})
    forced = any(r["forced_avg"] is not None for r in mine)
    by_key = {(r["task"], r["budget"], r["answer_policy"]): r for r in rows}
    pct = lambda x: "" if x is None else f"{100 * x:.1f}"  # noqa: E731
    body = [
        [r["task"], r["budget"], r["n"], r["problems"], pct(r["avg"]), pct(r["se"])]
        + ([pct(r["forced_avg"])] if forced else [])
        + [pct((by_key.get((r["task"], r["budget"], o)) or {}).get("avg")) for o in others]
        + [pct(r["truncation_rate"]), f"{r['mean_tokens']:.1f}"]
        for r in mine
    ]
    headers = ["task", "budget", "n", "problems", f"avg@n (%) {policy}", "± SE"] + (["forced (%)"] if forced else [])
    headers += [f"avg@n (%) {o}" for o in others] + ["truncated (%)", "mean tokens"]
    return tables.render(headers, body, "markdown", align="lrrr" + "r" * (len(headers) - 4)).rstrip("\n")


def _device_name(cfg: EvalConfig) -> str:
    if cfg.backend == "openai":
        return "openai:" + ",".join(cfg.base_urls)
    import platform

    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    except ImportError:
        pass
    return f"cpu ({platform.machine()}, {os.cpu_count()} cores)"


def _spawn_data_parallel(p: Plan) -> None:
    """One `harness eval --dp-rank R` process per replica, each on its own GPUs, writing its own shards."""
    import subprocess

    cfg = p.config
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpus = visible.split(",") if visible else [str(i) for i in range(cfg.data_parallel_size * cfg.tensor_parallel_size)]
    procs = []
    for rank in range(cfg.data_parallel_size):
        env = dict(
            os.environ,
            CUDA_VISIBLE_DEVICES=",".join(
                gpus[rank * cfg.tensor_parallel_size : (rank + 1) * cfg.tensor_parallel_size]
            ),
        )
        argv = [sys.executable, "-m", "harness.cli", *sys.argv[1:], "--dp-rank", str(rank)]
        procs.append(subprocess.Popen(argv, env=env))
    failed = [r for r, proc in enumerate(procs) if proc.wait() != 0]
    if failed:
        raise RuntimeError(f"data-parallel worker(s) {failed} failed; rerun the same command to resume")
