"""Training prompts: from `tasks` (any task spec: synthetic, AIME, file:PATH) or from a dataset file/hub id, deduplicated.

Two row conventions are read:
- verl/DAPO: `prompt` is a list of chat messages (used as-is: the instruction is already inside) and
  `reward_model.ground_truth` is the answer. The published DAPO-Math-17k parquet repeats each prompt
  many times, so rows are deduplicated by prompt text.
- plain: `prompt` (or `question`/`problem`) is a string, wrapped in the configured template, and
  `answer` (or `solution`/`ground_truth`) is the answer.
`PromptStream` walks a seeded permutation per epoch; its (epoch, position) is saved in checkpoints so a
resumed run sees exactly the prompts it would have seen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from train.config import ConfigError


@dataclass(frozen=True)
class Item:
    id: str
    messages: tuple  # chat messages, the last one the user's
    answer: str
    kind: str = "free"  # the answer kind (tasks.registry.KINDS) of the task it comes from; datasets: free


def answer_kind(items: list[Item], override: str = "") -> str:
    """The kind the reward grades by (tasks.grading.config_for): `override` when set, else the items' own
    when they all share one (a task), else "free"."""
    kinds = {it.kind for it in items}
    return override or (kinds.pop() if len(kinds) == 1 else "free")


def _task_items(name: str, template: str) -> list[Item]:
    import tasks

    task = tasks.load(name)
    tpl = tasks.get_template(template)
    return [
        Item(p.id, ({"role": "user", "content": tpl.render(p.question)},), p.answer, task.kind) for p in task.problems
    ]


def _answer(row: dict):
    for key in ("answer", "solution", "ground_truth"):
        if row.get(key) not in (None, ""):
            return row[key]
    rm = row.get("reward_model")
    if isinstance(rm, dict) and rm.get("ground_truth") not in (None, ""):
        return rm["ground_truth"]
    return None


def _row_item(row: dict, index: int, where: str, template) -> Item:
    prompt = row.get("prompt", row.get("question", row.get("problem")))
    answer = _answer(row)
    if prompt is None or answer is None:
        raise ConfigError(
            f"{where}: row {index}: needs a prompt (prompt/question/problem) and an answer "
            f"(answer/solution/ground_truth/reward_model.ground_truth); has {', '.join(row)}"
        )
    if isinstance(prompt, str):
        messages = ({"role": "user", "content": template.render(prompt)},)
    elif isinstance(prompt, list) and prompt and all(isinstance(m, dict) and "content" in m for m in prompt):
        messages = tuple({"role": m.get("role", "user"), "content": m["content"]} for m in prompt)
    else:
        raise ConfigError(f"{where}: row {index}: prompt must be a string or a list of chat messages")
    extra = row.get("extra_info")
    rid = extra.get("index") if isinstance(extra, dict) else None
    return Item(str(row.get("id", rid if rid is not None else index)), messages, str(answer))


def _dataset_items(source: str, template: str) -> list[Item]:
    import tasks
    from tasks.errors import TaskError
    from tasks.loading import read_rows

    tpl = tasks.get_template(template)
    if source.startswith("hub:"):
        import datasets

        datasets.disable_progress_bars()
        try:
            rows = datasets.load_dataset(source[4:], split="train")
        except Exception as exc:  # hub/network/parse errors come in many types; report as one line
            raise ConfigError(f"data {source}: cannot load: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    else:
        if not Path(source).is_file():
            raise ConfigError(f"data {source}: no such file")
        try:
            rows = read_rows(Path(source))  # the same reader (and one-line errors) as the eval tasks
        except TaskError as exc:
            raise ConfigError(f"data {exc}") from None
    items = [_row_item(row, i, source, tpl) for i, row in enumerate(rows)]
    if not items:
        raise ConfigError(f"data {source}: no rows")
    return items


def dedupe(items: list[Item]) -> list[Item]:
    """First occurrence of each prompt text wins (DAPO-Math-17k repeats its prompts)."""
    seen, out = set(), []
    for it in items:
        key = tuple((m["role"], m["content"]) for m in it.messages)
        if key not in seen:
            seen.add(key)
            out.append(it)
    return out


def load_items(source: str, template: str) -> list[Item]:
    """A task spec the registry knows (aime26, synthetic:size=8, file:PATH, a registered name) through
    `tasks.load`; any other file or hub id as a dataset (verl/DAPO or plain rows)."""
    from tasks import registry
    from tasks.errors import TaskError

    try:
        if registry.is_task(source):
            return _task_items(source, template)
    except TaskError as exc:
        raise ConfigError(f"data {source}: {exc}") from None
    return dedupe(_dataset_items(source, template))


class PromptStream:
    """Endless seeded walk over items: a fresh permutation each epoch. State is two integers."""

    def __init__(self, items: list[Item], seed: int):
        self.items, self.seed = items, seed
        self.epoch, self.pos = 0, 0
        self._order = self._perm(0)

    def _perm(self, epoch: int) -> list[int]:
        order = list(range(len(self.items)))
        random.Random(f"{self.seed}:{epoch}").shuffle(order)
        return order

    def take(self, n: int) -> list[Item]:
        out = []
        while len(out) < n:
            if self.pos == len(self._order):
                self.epoch, self.pos = self.epoch + 1, 0
                self._order = self._perm(self.epoch)
            out.append(self.items[self._order[self.pos]])
            self.pos += 1
        return out

    def state(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state(self, s: dict) -> None:
        self.epoch, self.pos = int(s["epoch"]), int(s["pos"])
        self._order = self._perm(self.epoch)
