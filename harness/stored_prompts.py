"""A stored sample's prompt, rebuilt under the rule of the run that generated it: one lookup for every reader.

`harness eval` records in its manifest what built its prompts (`harness.evaluate.plan`): the template (name,
hash, text), the prompt switches (system prompt, chat template kwargs) and each task's data source and content
hash; each sample row names its task, problem, template (name and hash) and prompt length. `StoredPrompts(manifest)`
puts them back together with the rule eval used, `tasks.prompts` (the user message under the switches, the
checkpoint's chat template around it):

    lookup = StoredPrompts(manifest, data=None, hub=True)
    lookup.prompt(row)            -> StoredPrompt: the user message, the messages sent (system message first), text
    lookup.ids(row, tokenizer)    -> the prompt ids, checked against the row's `prompt_tokens`

`harness entropy` teacher-forces on `ids` (harness.entropy.measure.rebuild_prompts); `harness view` shows `text`.

Rules:
- template: the text the manifest records when its hash is the row's; else the registry's template of that name,
  which must have the row's hash (one edited since is an error, never a silently different prompt);
- switches: the manifest's `prompt_switches` (none for runs made before they existed, or without a manifest);
- task data: a generated task is generated again from its recorded spec; else `data` when given; else the
  recorded source when it is a local path that exists; else where `tasks.load` looks by default
  ($HARNESS_DATA_DIR, then the hub; with hub=False $HARNESS_DATA_DIR only). Its content hash must be the run's
  (strict), or the prompt says the data differs (`data_differs`).

Bad data or names raise UsageError (one line); a task that cannot be loaded, `tasks.errors.TaskError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from tasks.prompts import NO_SWITCHES, PromptSwitches, user_prompt_ids


def run_switches(manifest: dict | None) -> PromptSwitches:
    """The prompt switches a run recorded (none before runs recorded them)."""
    recorded = (manifest or {}).get("prompt_switches") or {}
    if not recorded:
        return NO_SWITCHES
    return PromptSwitches(recorded.get("system_prompt"), dict(recorded.get("chat_template_kwargs") or {}))


@dataclass(frozen=True)
class StoredPrompt:
    task: str
    problem_id: str
    user_message: str  # the template around the question
    switches: PromptSwitches
    data_differs: bool = False  # the task data found here is not the run's (content hash); only when not strict

    @property
    def messages(self) -> list[dict]:
        """The conversation the run sent: the system message (when it set one), then the user message."""
        return self.switches.messages([{"role": "user", "content": self.user_message}])

    @property
    def text(self) -> str:
        """For a reader: the user message alone, or each message after its role when the run set a system message."""
        msgs = self.messages
        if len(msgs) == 1:
            return msgs[0]["content"]
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in msgs)

    def ids(self, tokenizer) -> tuple[int, ...]:
        """The prompt ids under the checkpoint's chat template and the run's switches (`tasks.prompts`)."""
        return tuple(user_prompt_ids(tokenizer, self.user_message, self.switches))


class StoredPrompts:
    """The prompts of one run's samples (or of sample rows without a manifest: registry templates, no switches).

    `data`: where the task data is now (overrides the recorded source); `hub`: whether the default lookup may go
    to the hub. Tasks and templates are loaded once."""

    def __init__(self, manifest: dict | None = None, *, data: str | None = None, hub: bool = True):
        self.manifest = manifest or {}
        self.data = data
        self.hub = hub
        self.switches = run_switches(self.manifest)
        self._tasks: dict[str, object] = {}
        self._problems: dict[str, dict] = {}

    def prompt(self, row: dict, *, strict: bool = True) -> StoredPrompt:
        """The prompt of a sample row (a dict with task, problem_id and, where known, task_hash, template,
        template_hash). strict: task data whose content hash is not the run's is an error, else flagged."""
        task, pid = row["task"], row["problem_id"]
        t = self.task(task)
        recorded = row.get("task_hash") or (self.manifest.get("task_hashes") or {}).get(task)
        differs = recorded is not None and t.content_hash != recorded
        if differs and strict:
            raise UsageError(
                f"task {task} from {t.source} has content hash {t.content_hash}, the samples were "
                f"generated from {recorded}: pass --data with the same data"
            )
        problem = self._problems[task].get(pid)
        if problem is None:
            raise UsageError(f"problem {pid} is not in task {task}")
        template = self.template(row.get("template") or self.manifest.get("template") or "", row.get("template_hash"))
        return StoredPrompt(task, pid, template.render(problem.question), self.switches, differs)

    def ids(self, row: dict, tokenizer) -> tuple[int, ...]:
        """The prompt ids of a sample row, checked against its stored `prompt_tokens`."""
        ids = self.prompt(row).ids(tokenizer)
        n_prompt = row.get("prompt_tokens")
        if n_prompt is not None and len(ids) != n_prompt:
            raise UsageError(
                f"{row['task']} {row['problem_id']}: the rebuilt prompt has {len(ids)} tokens, the samples' had "
                f"{n_prompt} (a different tokenizer or chat template than the run used)"
            )
        return ids

    def task(self, name: str):
        """The task `name` as loaded here (see the module's rule for where from)."""
        if name not in self._tasks:
            import tasks

            spec, source = self._where(name)
            t = tasks.load(spec, source=source)
            self._tasks[name] = t
            self._problems[name] = {p.id: p for p in t.problems}
        return self._tasks[name]

    def template(self, name: str, digest: str | None):
        """The template the samples were rendered with: the run's recorded text, else the registry's (same hash)."""
        import tasks

        text = self.manifest.get("template_text")
        if text is not None and self.manifest.get("template") == name:
            recorded = tasks.Template(name, text)
            if digest is None or recorded.hash == digest:
                return recorded
        template = tasks.get_template(name)  # TaskError names the known ones
        if digest is not None and template.hash != digest:
            raise UsageError(
                f"template {name!r} has changed since the samples were generated "
                f"(hash {template.hash}, samples {digest})"
            )
        return template

    def _where(self, name: str) -> tuple[str, str | None]:
        """(the name or spec to load, the source to load it from)."""
        from tasks.loading import generated_spec

        recorded = (self.manifest.get("task_sources") or {}).get(name)
        spec = generated_spec(recorded)
        if spec is not None:
            return spec, self.data
        if self.data is not None:
            return name, self.data
        if recorded and Path(recorded).exists():
            return name, recorded
        if self.hub:
            return name, None  # tasks.load's own default: $HARNESS_DATA_DIR, else the hub
        if os.environ.get("HARNESS_DATA_DIR"):
            return name, os.environ["HARNESS_DATA_DIR"]
        raise UsageError(f"task {name}'s data is not on this machine (set HARNESS_DATA_DIR)")
