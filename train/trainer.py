"""The GRPO/DAPO loop with the top-ρ entropy mask, for one process (CPU or one GPU).

One rollout step:
1. take prompts, sample `group_size` responses each with the policy (train/rollout/), score them;
   with dynamic sampling drop groups whose rewards are all equal and sample more prompts until the
   batch is full or `max_sampling_rounds` is spent (then train on what was kept);
2. group-relative advantages (train/advantage.py);
3. for each mini-batch of `mini_batch_prompts` prompts: micro-batches with gradient accumulation; per
   micro-batch the last hidden states go through `fused_logprobs_and_entropy` (no [N, V] logits), the
   preset masks the top-ρ entropy tokens and computes the DAPO loss (train/presets.py: the single
   path from the configured ρ to the loss); grad clip, AdamW step;
4. one scheduler step (linear warm-up, then constant: warm-up counts rollout steps, as verl does),
   one JSONL log line, a checkpoint every `save_every` steps.
A non-finite loss or gradient norm stops the run before the optimizer step; the last checkpoint on
disk is the last good state.

Writes that fail (a full disk, a quota) stop the run with one line (ConfigError) and leave nothing half
written: a log line that could not be appended whole is cut back off, a checkpoint folder that could not be
written whole is removed. A step's log line is appended before its checkpoint is saved, so a resume drops
the lines after the checkpoint it resumes from, and an incomplete last line (a kill or a full disk inside
the append) counts as not written.
"""

from __future__ import annotations

import json
import math
import os
import resource
import time
from pathlib import Path

import torch

from tasks import files
from train import checkpoint, rollout
from train.advantage import group_advantages, informative_groups
from train.config import ConfigError, TrainConfig, resume_changes
from train.data import PromptStream, answer_kind, load_items
from train.logprobs import token_logprobs
from train.loss import ENTROPY_PERCENTILES, STEP_METRICS, entropy_percentiles
from train.mask import selection_seed
from train.rollout_correction import METRICS as CORRECTION_METRICS


def _dtype(name: str, device: str):
    if name == "auto":
        return torch.bfloat16 if device == "cuda" else torch.float32
    return getattr(torch, name)


def peak_memory_mb(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def micro_tensors(r: rollout.Rollout, rows: slice, device):
    """Rows `rows` of a rollout as the update's forward pass takes them, trimmed to the columns any of them uses:
    (input ids, attention mask, prompt width, labels (-100 off the response), response mask), on `device`."""
    att = r.attention_mask[rows]
    resp_mask = r.response_mask[rows]
    first = int((att[:, : r.prompt_width].sum(0) > 0).nonzero()[0]) if att[:, : r.prompt_width].any() else 0
    R = max(1, int(resp_mask.sum(-1).max()))
    end = r.prompt_width + R
    ids = r.input_ids[rows, first:end].to(device)
    att = att[:, first:end].to(device)
    resp_mask = resp_mask[:, :R].to(device)
    labels = torch.where(resp_mask, ids[:, r.prompt_width - first :], -100)
    return ids, att, r.prompt_width - first, labels, resp_mask


def _slices(start: int, stop: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, stop)) for i in range(start, stop, size)]


def _tensorboard(out: Path):
    """A SummaryWriter under OUT/tb when tensorboard is installed, else False (JSONL only)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # optional dependency: the JSONL log is the record
        return False
    return SummaryWriter(str(out / "tb"))


def _write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` whole or not at all (`tasks.files`); a refused write is one line."""
    try:
        files.atomic_write_text(path, text)
    except OSError as exc:
        raise ConfigError(f"out {path.parent}: cannot write {path.name} ({exc.strerror or exc})") from None


def _tokenizer(src: str):
    """The checkpoint's tokenizer, padding on the left (prompts are left-padded), or one line (ConfigError)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(src)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"model {src}: cannot load tokenizer: {str(exc).splitlines()[0]}") from None
    tokenizer.padding_side = "left"
    return tokenizer


def _lock(out: Path) -> checkpoint.RunLock:
    """Hold `out` for this run: a second trainer there (a resubmitted job) gets one line instead."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        return checkpoint.RunLock(out)
    except BlockingIOError:
        raise ConfigError(
            f"out {out}: another training run (pid {checkpoint.holder(out)}) is writing there; "
            "wait for it to end or choose another --out"
        ) from None
    except OSError as exc:
        raise ConfigError(f"out {out}: cannot write there ({exc.strerror or exc})") from None


class Trainer:
    tb = None

    def __init__(self, cfg: TrainConfig, log=print, items=None, allow_config_change: bool = False):
        """`items` (a list of train.data.Item) replaces loading `cfg.data`, for programmatic use.
        `allow_config_change`: resume although keys outside `RESUME_FREE` changed (recorded in log.jsonl)."""
        self.cfg, self.say = cfg, log
        self.out = Path(cfg.out)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        resume_from, state, changes = self._claim_out(allow_config_change)
        self.preset = cfg.preset_obj()
        for note in cfg.inert():
            self.say(f"note: {note}")
        src = str(resume_from) if resume_from else cfg.model  # tokenizer and weights come from here
        self._load_prompts(items, src)
        self._load_policy(src)
        self.engine: rollout.RolloutBackend = self._rollout_backend(src)
        self.opt, self.sched = self._optimizer()
        self._start_or_resume(resume_from, state, changes)
        self._write_config()

    def _claim_out(self, allow_config_change: bool):
        """Lock OUT, remove what a killed save left, and find the checkpoint to resume from (`_resume_point`)."""
        self._lock = _lock(self.out)
        for p in checkpoint.remove_partial(self.out):  # a save killed (kill -9) before its rename
            self.say(f"removed {p.name}, an unfinished checkpoint of an earlier run")
        files.remove_temporaries(self.out)  # a config.yaml or log.jsonl rewrite killed before its rename
        return self._resume_point(allow_config_change)

    def _load_prompts(self, items, src: str) -> None:
        """Training and validation items (all loaded before the model: a bad file fails now, not at step N),
        the tokenizer, and each item's prompt ids; prompts over max_prompt_tokens are dropped (counted)."""
        cfg = self.cfg
        items = load_items(cfg.data, cfg.template) if items is None else items
        val = load_items(cfg.val_data, cfg.template) if cfg.val_data else []
        val = val[: cfg.val_limit] if cfg.val_limit else val
        self.tokenizer = _tokenizer(src)
        switches = cfg.prompt_switches()
        self.items = []
        for it in items:
            ids = rollout.prompt_ids(self.tokenizer, it.messages, switches)
            if len(ids) <= cfg.max_prompt_tokens:
                self.items.append((it, ids))
        self.val = [(it.answer, rollout.prompt_ids(self.tokenizer, it.messages, switches)) for it in val]
        self.kind = answer_kind(items, cfg.answer_kind)  # the reward's grading rules (tasks.grading.config_for)
        self.val_kind = answer_kind(val, cfg.answer_kind) if val else self.kind
        if not self.items:
            raise ConfigError(f"data {cfg.data}: no prompt fits max_prompt_tokens={cfg.max_prompt_tokens}")
        self.dropped_prompts = len(items) - len(self.items)

    def _load_policy(self, src: str) -> None:
        """The policy in training mode on this device, seeded by cfg.seed, and its end-of-sequence and pad ids."""
        from transformers import AutoModelForCausalLM

        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        if self.device == "cpu":  # subnormal floats (exp of very negative logits) are slow on x86 CPUs
            torch.set_flush_denormal(True)
        self.model = AutoModelForCausalLM.from_pretrained(src, dtype=_dtype(cfg.dtype, self.device)).to(self.device)
        if cfg.gradient_checkpointing:
            self.model.gradient_checkpointing_enable()
        self.model.train()
        self.eos = rollout.eos_ids(self.model, self.tokenizer)
        if not self.eos:
            raise ConfigError(f"model {src}: no eos token in generation_config or tokenizer")
        self.pad = rollout.pad_id(self.tokenizer, self.eos)

    def _rollout_backend(self, src: str) -> rollout.RolloutBackend:
        """The configured backend: the policy's own generate ("hf"), or a vLLM engine ("vllm") that starts from
        the same weights as the policy (`src`) and takes the updated ones by `push`."""
        cfg = self.cfg
        if cfg.backend != "vllm":
            return rollout.HFRollout(
                self.model,
                self.tokenizer,
                batch_size=cfg.rollout_batch_size,
                prompt_sharing=cfg.prompt_sharing,
                mixed_precision=cfg.mixed_precision,
            )
        from train.rollout.vllm import VLLMRollout

        return VLLMRollout(
            src,
            self.tokenizer,
            max_model_len=cfg.max_prompt_tokens + cfg.max_response_tokens,
            gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
            seed=cfg.seed,
            dtype=cfg.mixed_precision or str(self.model.dtype).removeprefix("torch."),
            eos_token_ids=self.eos,
            cpu_kv_cache_gib=cfg.vllm_cpu_kv_cache_gib,
        )

    def _optimizer(self):
        """AdamW (no weight decay on biases and norms) and the schedule: linear warm-up, then constant."""
        cfg = self.cfg
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in self.model.named_parameters() if p.ndim < 2]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=tuple(cfg.adam_betas),
        )
        warm = cfg.warmup_steps
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) if warm else 1.0)

    def _start_or_resume(self, resume_from, state, changes) -> None:
        """Step 0 with a fresh log, or the checkpoint's optimizer, scheduler, data position, RNG and step (the log
        cut back to that step, changed settings recorded)."""
        self.stream = PromptStream(self.items, self.cfg.seed)
        self.step = 0
        self.log_path = self.out / "log.jsonl"
        self.out.mkdir(parents=True, exist_ok=True)
        if not resume_from:
            if self.log_path.exists():
                self.log_path.unlink()  # a fresh run: no stale lines from an earlier one
            return
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.stream.load_state(state["data"])
        checkpoint.set_rng_state(state["rng"])
        self.step = state["step"]
        self._truncate_log(self.step)
        self.say(f"resumed from {resume_from} at step {self.step}")
        if changes:
            self.log({"step": self.step, "config_change": changes})  # applies from step + 1 on

    def _write_config(self) -> None:
        """OUT/config.yaml: the resolved config (a resume with the same settings writes nothing)."""
        import yaml

        config_text, config_path = yaml.safe_dump(self.cfg.to_dict(), sort_keys=False), self.out / "config.yaml"
        if not (config_path.is_file() and config_path.read_text() == config_text):
            _write_atomic(config_path, config_text)

    def _resume_point(self, allow_config_change: bool):
        """(checkpoint to resume from, its state, changed keys), falling back past damaged checkpoints."""
        cfg = self.cfg
        if not cfg.resume:
            if checkpoint.latest(cfg.out):
                raise ConfigError(f"out {cfg.out}: holds checkpoints; set resume: true or choose another --out")
            return None, None, {}
        path, state, damaged = checkpoint.resumable(cfg.out)
        if damaged and path is None:
            raise ConfigError(
                f"out {cfg.out}: no intact checkpoint to resume from ({damaged[0][0].name}: "
                f"{damaged[0][1]}); move the folder away to start over"
            )
        for p, reason in damaged:
            self.say(
                f"checkpoint {p.name}: {reason}; set aside as {checkpoint.set_aside(p).name}, resuming from {path.name}"
            )
        if path is None:
            return None, None, {}
        changes = resume_changes(state.get("config", {}), cfg.to_dict())
        if changes and not allow_config_change:
            listed = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changes.items())
            raise ConfigError(
                f"out {cfg.out}: resuming {path.name} with changed settings ({listed}); pass "
                "--allow-config-change to continue with them (recorded in log.jsonl) or choose another --out"
            )
        return path, state, changes

    def close(self) -> None:
        """Release `out` for another run (also when the trainer is garbage-collected or the process dies)."""
        self._lock.release()

    def _truncate_log(self, step: int) -> None:
        """Lines logged after the checkpoint we resume from are replayed, so drop them; an incomplete last line
        (no newline: the append was cut short) was never written. The log is replaced atomically, and only when
        something is dropped (a resume on a full disk needs no space for it)."""
        if not self.log_path.exists():
            return
        text = self.log_path.read_text()
        lines = text.split("\n")
        partial = lines.pop()  # "" when the file ends with a newline, as every complete append does
        keep = []
        for i, ln in enumerate(lines, 1):
            if not ln.strip():
                continue
            try:
                row = json.loads(ln)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"out {self.out}: log.jsonl line {i} is not JSON ({exc.msg}); it was damaged outside the "
                    "trainer: repair or remove that line to resume"
                ) from None
            if row.get("step", 0) <= step:
                keep.append(ln + "\n")
        new = "".join(keep)
        if new != text:
            _write_atomic(self.log_path, new)
        if partial:
            self.say(f"log.jsonl: dropped an incomplete last line ({len(partial)} characters, an interrupted append)")

    # ----------------------------------------------------------------- rollout
    def sample(self, prompts, answers, group_size: int, seed: int) -> rollout.Rollout:
        """`group_size` responses per prompt from the current policy, through the configured backend."""
        cfg = self.cfg
        return self.engine.generate(
            prompts,
            answers,
            group_size=group_size,
            max_new_tokens=cfg.max_response_tokens,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            seed=seed,
        )

    def collect(self) -> tuple[rollout.Rollout | None, dict]:
        cfg, kept, stats = self.cfg, [], {"gen_tokens": 0, "rounds": 0, "groups_sampled": 0}
        all_rewards, all_correct, all_len, all_trunc = [], [], [], []
        n_kept = 0
        for rnd in range(cfg.max_sampling_rounds):
            batch = self.stream.take(cfg.prompts_per_step)
            r = self.sample(
                [ids for _, ids in batch],
                [it.answer for it, _ in batch],
                cfg.group_size,
                seed=(cfg.seed * 1_000_003 + self.step) * 16 + rnd,
            )
            rollout.score(
                r,
                mode=cfg.reward_mode,
                max_length=cfg.max_response_tokens,
                overlong_buffer=cfg.overlong_buffer,
                kind=self.kind,
            )
            stats["rounds"] += 1
            stats["groups_sampled"] += len(batch)
            stats["gen_tokens"] += int(r.lengths.sum())
            all_rewards.append(r.rewards)
            all_correct.append(r.correct)
            all_len.append(r.lengths)
            all_trunc.append(rollout.truncated(r, self.eos))
            keep = (
                informative_groups(r.rewards, cfg.group_size)
                if cfg.dynamic_sampling
                else torch.ones(len(batch), dtype=torch.bool)
            )
            keep &= torch.cumsum(keep.long(), 0) <= cfg.prompts_per_step - n_kept
            if keep.any():
                kept.append(r.select(keep.repeat_interleave(cfg.group_size)))
                n_kept += int(keep.sum())
            if n_kept >= cfg.prompts_per_step:
                break
        rw, cr = torch.cat(all_rewards), torch.cat(all_correct).float()
        ln, tr = torch.cat(all_len).float(), torch.cat(all_trunc).float()
        stats.update(
            {
                "reward_mean": float(rw.mean()),
                "accuracy": float(cr.mean()),
                "response_length": float(ln.mean()),
                "response_length_max": int(ln.max()),
                "truncation_rate": float(tr.mean()),
                "groups_kept": n_kept,
            }
        )
        return (rollout.concat(kept, self.pad) if kept else None), stats

    # ----------------------------------------------------------------- update
    def _logprobs(self, r: rollout.Rollout, rows: slice):
        """(log p, entropy, response mask) of one micro-batch under the current policy."""
        ids, att, P, labels, resp_mask = micro_tensors(r, rows, self.device)
        lp, ent = token_logprobs(
            self.model,
            ids,
            att,
            P,
            labels,
            self.cfg.temperature,
            prompt_sharing=self.cfg.prompt_sharing,
            mixed_precision=self.cfg.mixed_precision,
        )
        return lp, ent, resp_mask

    def update(self, r: rollout.Rollout) -> dict:
        cfg = self.cfg
        G = cfg.group_size
        adv = group_advantages(r.rewards, G, normalize_std=self.preset.adv_std_norm)
        n_seq = r.input_ids.shape[0]
        mini = cfg.mini_batch_prompts * G
        minis = _slices(0, n_seq, mini)
        old = None
        if len(minis) > 1:  # the policy moves between mini-batches: freeze the behaviour log-probs
            old = torch.zeros(r.response_mask.shape)
            with torch.no_grad():
                for sl in _slices(0, n_seq, cfg.micro_batch_size):
                    lp, _, _ = self._logprobs(r, sl)
                    old[sl, : lp.shape[1]] = lp.float().cpu()
        agg = {"loss": 0.0, "num_selected": 0, "num_valid": 0, "grad_norm": 0.0}
        thresholds, ents, n_micro = [], [], 0
        for ms in minis:
            self.opt.zero_grad(set_to_none=True)
            for sl in _slices(ms.start, ms.stop, cfg.micro_batch_size):
                lp, ent, resp_mask = self._logprobs(r, sl)
                old_lp = lp.detach() if old is None else old[sl, : lp.shape[1]].to(self.device)
                sampler = r.sampler_logprobs
                loss, m = self.preset.loss(
                    lp,
                    old_lp,
                    adv[sl].to(self.device),
                    resp_mask,
                    ent,
                    seed=selection_seed(cfg.seed, self.step, n_micro),
                    sampler_logprobs=None if sampler is None else sampler[sl, : lp.shape[1]].to(self.device),
                )
                if not torch.isfinite(loss):
                    raise rollout.NonFinite(f"non-finite loss {float(loss)} at step {self.step + 1}")
                (loss * (sl.stop - sl.start) / (ms.stop - ms.start)).backward()
                n_micro += 1
                agg["loss"] += float(loss.detach())
                for k in (*STEP_METRICS, *CORRECTION_METRICS):  # per-call metrics (clip fractions, mismatch, ...)
                    if k in m:
                        agg[k] = max(agg.get(k, m[k]), m[k]) if k.endswith("_max") else agg.get(k, 0.0) + m[k]
                agg["num_selected"] += m["num_selected"]
                agg["num_valid"] += m["num_valid"]
                if not math.isnan(m["mask_threshold"]):
                    thresholds.append(m["mask_threshold"])
                ents.append(ent.detach()[resp_mask].float().cpu())
            gn = torch.nn.utils.clip_grad_norm_(
                self.model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            )
            if not torch.isfinite(gn):
                raise rollout.NonFinite(f"non-finite gradient norm at step {self.step + 1}")
            agg["grad_norm"] += float(gn) / len(minis)
            self.opt.step()
        for k in ("loss", *STEP_METRICS, *CORRECTION_METRICS):
            if k in agg and not k.endswith("_max"):
                agg[k] /= max(n_micro, 1)
        agg["selected_fraction"] = agg["num_selected"] / max(agg["num_valid"], 1)
        agg["threshold"] = sum(thresholds) / len(thresholds) if thresholds else None
        e = torch.cat(ents) if ents else torch.zeros(0)
        agg.update({f"entropy_p{q}": None for q in ENTROPY_PERCENTILES} | entropy_percentiles(e))
        agg["entropy_mean"] = float(e.mean()) if e.numel() else None
        agg["optimizer_steps"] = len(minis)
        agg["train_tokens"] = agg["num_valid"]
        return agg

    # ----------------------------------------------------------------- loop
    def log(self, row: dict) -> None:
        """Append one line whole, or cut the part that was written back off and raise ConfigError."""
        data = (json.dumps(row) + "\n").encode()
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as exc:
                os.ftruncate(fd, start)  # frees, never needs, space
                raise ConfigError(
                    f"out {self.out}: cannot append step {row.get('step')} to log.jsonl ({exc.strerror or exc}); "
                    f"{self._resume_hint()}"
                ) from None
        finally:
            os.close(fd)
        if self.tb is None:
            self.tb = _tensorboard(self.out)
        if self.tb:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k != "step":
                    self.tb.add_scalar(k, v, row["step"])
            self.tb.flush()

    def _resume_hint(self) -> str:
        last = checkpoint.latest(self.out)
        return f"rerun to resume from {last.name if last else 'the start'} once there is room"

    def save(self) -> Path:
        try:
            return checkpoint.save(
                self.out,
                self.step,
                self.model,
                self.tokenizer,
                {
                    "optimizer": self.opt.state_dict(),
                    "scheduler": self.sched.state_dict(),
                    "data": self.stream.state(),
                    "config": self.cfg.to_dict(),
                },
                self.cfg.keep_last,
            )
        except checkpoint.WriteError as exc:
            raise ConfigError(f"out {self.out}: {exc}, partial folder removed; {self._resume_hint()}") from None

    def train(self) -> int:
        """Run to `steps`; returns 0, or 1 after a non-finite loss (last good checkpoint kept)."""
        cfg = self.cfg
        if self.dropped_prompts:
            self.say(f"dropped {self.dropped_prompts} prompts longer than {cfg.max_prompt_tokens} tokens")
        while self.step < cfg.steps:
            t0 = time.perf_counter()
            lr = self.sched.get_last_lr()[0]
            try:
                r, row = self.collect()
                t1 = time.perf_counter()
                self.engine.sleep()  # vLLM on GPU: frees the engine's memory for the update; else a no-op
                if r is None:
                    row["skipped"] = "no group with unequal rewards"
                else:
                    row.update(self.update(r))
                self.engine.push(self.model)  # the next rollout samples from the updated policy
            except rollout.NonFinite as exc:
                self.log({"step": self.step + 1, "stopped": str(exc)})
                last = checkpoint.latest(self.out)
                self.say(f"stopped: {exc}; last good checkpoint: {last or 'none'}")
                return 1
            self.sched.step()
            self.step += 1
            t2 = time.perf_counter()
            row = {
                "step": self.step,
                "lr": lr,
                **row,
                "rollout_s": t1 - t0,
                "update_s": t2 - t1,
                "step_s": t2 - t0,
                "gen_tokens_per_s": row["gen_tokens"] / max(t1 - t0, 1e-9),
                "train_tokens_per_s": row.get("train_tokens", 0) / max(t2 - t1, 1e-9),
                "peak_memory_mb": peak_memory_mb(self.device),
                "rho": self.preset.rho,
            }
            if cfg.val_data and cfg.val_every and self.step % cfg.val_every == 0:
                row["val_accuracy"], row["val_problems"] = self.validate(), len(self.val)
            self.log(row)
            self.say(
                f"step {self.step}: reward {row['reward_mean']:.3f} acc {row['accuracy']:.3f} "
                f"len {row['response_length']:.0f} sel {row.get('selected_fraction', 0):.3f} "
                f"{row['step_s']:.1f}s"
            )
            if self.step == cfg.steps or (cfg.save_every and self.step % cfg.save_every == 0):
                self.save()
        return 0

    @torch.no_grad()
    def validate(self) -> float:
        """Accuracy of one sample per validation problem at the rollout temperature."""
        r = self.sample([ids for _, ids in self.val], [a for a, _ in self.val], 1, seed=10_000_019 + self.step)
        rollout.score(r, mode="binary", max_length=self.cfg.max_response_tokens, overlong_buffer=0, kind=self.val_kind)
        return float(r.correct.float().mean())
