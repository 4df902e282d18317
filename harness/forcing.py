"""Budget forcing: what a sample cut at budget B answers when made to stop there (`harness eval --force-answer`).

s1 (Muennighoff et al. 2025, arXiv 2501.19393) forces a model to stop thinking at a budget and answer. Here a
sample that a scored budget B cut before it answered (its natural verdict at B: no answer) is continued from
its first B tokens with the end-of-thinking delimiter when its thought is open, then the template's fixed
answer prefix (`tasks.Template.answer_prefix`: `**Final Answer** \\boxed{` for boxed prompts, `Answer:` for
the DAPO prompt), then at most `force_tokens` tokens at temperature 0, ending with the first line end (`STOP`:
the forced answer is the rest of the prefix's line, as both prefixes put the answer on it; without the stop a
model writes on to the token limit, and those tokens were most of the pass's cost). The cut text plus that tail
is graded,
as a finished response, under the run's answer policy: the forced verdict. It separates "did not finish" from
"did not know". Natural verdicts never change; forced ones live in their own append-only shards
(`harness.store.FORCED_SCHEMA`), so a killed forcing pass resumes where it stopped. A sample that answered
(or was not cut) keeps its natural verdict as its forced one.
"""

from __future__ import annotations

import pyarrow.compute as pc

from harness import regrade, store
from harness.backends import Request, SamplingParams

THINK_CLOSE = "\n</think>\n\n"
STOP = ("\n",)  # the forced continuation ends with the token that ends its line
EXTRA_TOKENS = 32  # room for the delimiter and the answer prefix, beyond --force-tokens, in the context


def prefix_text(cut_text: str, prompt_opens: bool, answer_prefix: str) -> str:
    """What is appended before the model continues: the thought's end when it is still open, then the prefix."""
    open_thought = "</think>" not in cut_text and (prompt_opens or "<think>" in cut_text)
    return (THINK_CLOSE if open_thought else "") + answer_prefix


def candidates(run_dir, policy: str, wanted: set) -> list[dict]:
    """The rows under `policy` cut before they answered, of the samples in `wanted` ((task, problem, idx)), that
    have no forced answer yet."""
    cols = ["task", "problem_id", "sample_idx", "budget", "answer_policy", "truncated", "status"]
    t = store.read_samples(run_dir, columns=cols)
    t = t.filter(pc.and_(t["truncated"], pc.equal(t["status"], "no_answer")))
    done = {tuple(r[k] for k in store.FORCED_KEY) for r in store.read_forced(run_dir).to_pylist()}
    out = []
    for r in t.to_pylist():
        r["answer_policy"] = store.policy_of(r["answer_policy"])
        key = tuple(r[k] for k in store.FORCED_KEY)
        if r["answer_policy"] == policy and (r["task"], r["problem_id"], r["sample_idx"]) in wanted and key not in done:
            out.append(r)
    return out


def force(p, sampler, todo: list[dict], *, decode, kinds: dict, opens, timeout: float, chunk: int = 64) -> int:
    """Continue the `todo` rows (`candidates`) of the plan's run with `sampler` and store the forced verdicts.
    Every request goes to the engine at once (one continuous batch, as in generation); finished ones are graded
    and stored `chunk` to a shard, so a killed pass resumes from its shards. `opens(prompt_ids)`: the chat
    template opened the thought. Returns how many were forced."""
    policy = p.config.answer_policy
    fulls = regrade.full_rows(p.run_dir, {(r["task"], r["problem_id"], r["sample_idx"]) for r in todo})
    params = SamplingParams(0.0, 1.0, p.config.force_tokens, stop=STOP)
    requests, texts = [], {}
    for r in todo:
        sample = (r["task"], r["problem_id"], r["sample_idx"])
        full, prompt = fulls[sample], p.prompts[(r["task"], r["problem_id"])][0]
        ids = list(full["token_ids"][: r["budget"]])
        cut_text = decode(ids)
        prefix_ids = p.tokenizer(
            prefix_text(cut_text, opens(prompt), p.template.answer_prefix), add_special_tokens=False
        )["input_ids"]
        key = (*sample, r["budget"])
        requests.append(Request(key, tuple(prompt) + tuple(ids) + tuple(prefix_ids), (), 0))
        texts[key] = (cut_text, prefix_ids, full["gold"], kinds[r["task"]])
    done, finished = 0, []
    for request, sample in sampler.sample(requests, params):
        finished.append((request.key, sample))
        if len(finished) == chunk:
            done += _store(p, finished, texts, policy, timeout)
            finished = []
    return done + _store(p, finished, texts, policy, timeout)


def _store(p, finished: list, texts: dict, policy: str, timeout: float) -> int:
    """Grade the forced answers (the cut text plus the tail, as a finished response) and write them as a shard."""
    rows, items = [], []
    for key, sample in finished:
        cut_text, prefix_ids, gold, kind = texts[key]
        forced_ids = list(prefix_ids) + list(sample.token_ids)
        tail = p.tokenizer.decode(forced_ids, skip_special_tokens=True)
        task, pid, idx, budget = key
        rows.append(
            {
                "task": task,
                "problem_id": pid,
                "sample_idx": idx,
                "budget": budget,
                "answer_policy": policy,
                "forced_tail": tail,
                "forced_token_ids": forced_ids,
                "forced_prefix_tokens": len(prefix_ids),
                "forced_at": store.now(),
            }
        )
        items.append((cut_text + tail, gold, kind, False))  # a forced answer is a finished response
    for row, g in zip(rows, regrade.grade_cuts(items, policy, timeout)):
        row.update(forced_extracted=g.extracted, forced_status=g.status, forced_correct=bool(g.correct))
    store.write_shard(p.run_dir, rows, kind="forced", schema=store.FORCED_SCHEMA)
    return len(rows)
