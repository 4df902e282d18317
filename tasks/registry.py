"""The task registry: every task is data plus a `TaskSpec`, known by name, and any file is a task as it is.

A spec says where the rows come from (a local file, a file name to look for in a data folder, or a hub
dataset), which columns hold the question, the answer and the id, what kind of answer it has
(`integer`: 0-999, the AIME family; `free`: anything the checker reads), the size and id pattern when
they are known (validated on every load), a display title and the default prompt template.

Built in: `aime24`, `aime25`, `aime26`, `synthetic` (generated). `file:PATH` needs no registration.
Users add tasks in Python (`tasks.register(TaskSpec(...))`) or in YAML, read from the files named in
`$HARNESS_TASKS` (separated by the OS path separator) or passed to `register_yaml`:

    math500:
      path: data/math500.jsonl      # relative to the YAML file; or  hub: HuggingFaceH4/MATH-500
      kind: free
      size: 500
      title: MATH-500
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, fields
from pathlib import Path

from tasks import synthetic as _synthetic
from tasks.errors import TaskError

KINDS = ("integer", "free")  # integer: 0-999, compared exactly; free: any answer the checker reads
FILE_PREFIX = "file:"
ENV = "HARNESS_TASKS"
_NAME = re.compile(r"[a-z][a-z0-9_.-]*")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str = "free"
    title: str = ""  # for tables; defaults to the name
    path: str | None = None  # a fixed local .jsonl/.parquet file: wins over --data / $HARNESS_DATA_DIR
    files: tuple[str, ...] = ()  # stems to look for in a data folder ("aime24" finds aime24.jsonl / .parquet)
    hub: str | None = None  # dataset id used when no local source is given
    split: str = "train"
    revision: str | None = None
    question: tuple[str, ...] = ("problem", "question")  # the first present column holds the question
    answer: tuple[str, ...] = ("answer", "solution")  # ... the answer (from a solution: its last \boxed{})
    solution: tuple[str, ...] = ("solution",)  # answer columns holding a worked solution, not the answer
    id: str = "id"  # the id column; without it a row's id is its 1-based row number
    size: int | None = None  # exactly this many problems, when known
    id_pattern: str | None = None  # every id matches this regex, when known
    year: int | None = None  # AIME family: ids are YEAR-I-1 ... YEAR-II-15, other years' rows are skipped
    template: str = "boxed"
    fixes: tuple = ()  # (id, field, old, new): a known defect of a hub copy, corrected on load
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name) or self.name == "file":
            raise TaskError(
                f"bad task name {self.name!r}: lower-case letters, digits, '_', '-', '.', starting with a letter"
            )
        if self.kind not in KINDS:
            raise TaskError(f"task {self.name}: kind must be one of {', '.join(KINDS)} (got {self.kind!r})")
        if self.size is not None and (not isinstance(self.size, int) or self.size < 1):
            raise TaskError(f"task {self.name}: size must be a positive integer (got {self.size!r})")
        if self.id_pattern is not None:
            try:
                re.compile(self.id_pattern)
            except re.error as exc:
                raise TaskError(f"task {self.name}: bad id_pattern {self.id_pattern!r}: {exc}") from None

    @property
    def display(self) -> str:
        return self.title or self.name


def _aime(year: int, hub: str, fixes: tuple = (), note: str = "") -> TaskSpec:
    yy = year % 100
    return TaskSpec(
        f"aime{yy}",
        kind="integer",
        title=f"AIME'{yy}",
        files=(f"aime{yy}", f"aime_{year}", f"aime{year}"),
        hub=hub,
        size=30,
        id_pattern=rf"{year}-(I|II)-([1-9]|1[0-5])",
        year=year,
        fixes=fixes,
        note=note,
    )


# Hub copies used when no local source is given; their columns are mapped onto ours (tasks/loading.py).
#   aime24: HuggingFaceH4/aime_2024: id, problem, solution, answer, url (the AoPS url names contest and number).
#   aime25, aime26: MathArena/aime_2025, MathArena/aime_2026: problem_idx 1-30 (16-30 are AIME II), problem, answer.
# No machine of this project reaches the hub, so revisions could not be pinned to commits here: the
# default revision is used, the resolved source is recorded in Task.source, and Task.content_hash pins the data.
_II10 = "2026-II-10"
BUILTIN = (
    _aime(2024, "HuggingFaceH4/aime_2024"),
    _aime(2025, "MathArena/aime_2025"),
    _aime(
        2026,
        "MathArena/aime_2026",
        note="2026-II-10: the hub copy asks for a sum (850); corrected to 'greatest' (340)",
        fixes=(
            (_II10, "problem", "the sum of all possible values of", "the greatest possible value of"),
            (_II10, "answer", "850", "340"),
        ),
    ),
    TaskSpec(
        "synthetic",
        kind="integer",
        title="synthetic",
        note=f"generated; options seed, size (1 to {_synthetic.MAX_SIZE}), difficulty (1 to 8)",
    ),
)

_registry: dict[str, TaskSpec] = {s.name: s for s in BUILTIN}
_env_loaded: set[str] = set()
_lock = threading.Lock()


def register(spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
    """Make `spec` known by its name; a second spec of the same name needs `replace=True` (built-ins never)."""
    if not isinstance(spec, TaskSpec):
        raise TaskError(f"register takes a TaskSpec, got {type(spec).__name__}")
    with _lock:
        old = _registry.get(spec.name)
        if old is not None and old != spec and (not replace or old in BUILTIN):
            raise TaskError(
                f"task {spec.name!r} is already registered" + ("" if old in BUILTIN else " (pass replace=True)")
            )
        _registry[spec.name] = spec
    return spec


def register_yaml(path: str | os.PathLike) -> list[TaskSpec]:
    """Register every task of a YAML file: a mapping of names to TaskSpec fields; paths are relative to the file."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise TaskError(f"task file {p}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise TaskError(f"task file {p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not data:
        raise TaskError(f"task file {p}: expected a mapping of task names to their fields")
    known = {f.name for f in fields(TaskSpec)} - {"name", "fixes"}
    specs = []
    for name, body in data.items():
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise TaskError(f"task file {p}: task {name!r}: expected a mapping of fields")
        bad = sorted(set(body) - known)
        if bad:
            raise TaskError(
                f"task file {p}: task {name!r}: unknown field(s) {', '.join(bad)}; known: {', '.join(sorted(known))}"
            )
        values = {
            k: tuple(v)
            if isinstance(v, list)
            else (v,)
            if k in ("question", "answer", "solution", "files") and isinstance(v, str)
            else v
            for k, v in body.items()
        }
        if values.get("path"):
            values["path"] = str((p.parent / str(values["path"])).resolve())
        specs.append(TaskSpec(str(name), **values))
    for spec in specs:
        register(spec, replace=True)
    return specs


def _load_env() -> None:
    for item in filter(None, os.environ.get(ENV, "").split(os.pathsep)):
        if item not in _env_loaded:
            register_yaml(item)
            _env_loaded.add(item)


def names() -> list[str]:
    """Every registered task name, built-ins first."""
    _load_env()
    return list(_registry)


def get(name: str) -> TaskSpec:
    """The spec of a registered task name, or one TaskError naming the known ones."""
    _load_env()
    try:
        return _registry[name]
    except KeyError:
        raise TaskError(f"unknown task {name!r}; known: {', '.join(_registry)}, or file:PATH") from None


def is_task(spec: str) -> bool:
    """Whether a task spec string names a registered task or a `file:` task (options after ':' allowed)."""
    if not isinstance(spec, str):
        return False
    if spec.startswith(FILE_PREFIX):
        return True
    _load_env()
    return spec.split(":", 1)[0] in _registry


def file_spec(spec: str) -> TaskSpec:
    """The spec of `file:PATH`: free-form answers, question/problem and answer/solution columns."""
    path = spec[len(FILE_PREFIX) :]
    if not path:
        raise TaskError("file: task needs a path (file:PATH to a .jsonl or .parquet file)")
    return TaskSpec("file-task", kind="free", title=Path(path).name, path=path)


def title(name: str) -> str:
    """The display title of a task name ("AIME'24"); an unknown or file task shows its name."""
    if name.startswith(FILE_PREFIX):
        return name
    try:
        return get(name).display
    except TaskError:
        return name
