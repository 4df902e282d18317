"""`tasks.load`: AIME'24 / AIME'25 from a local file, a local folder or the hub, validated; synthetic tasks.

Every source goes through `datasets` and then through one mapping onto our columns and one validator, so
a file and a hub copy of the same problems give the same `Task.content_hash`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tasks.errors import TaskError
from tasks.types import Problem, Task

# Hub copies used when no local source is given. Their columns differ from ours; `_map_row` handles both.
#   aime24: HuggingFaceH4/aime_2024 (split "train"): id, problem, solution, answer, url, year; the
#           AoPS `url` names contest and number (".../2024_AIME_I_Problems/Problem_3").
#   aime25: MathArena/aime_2025 (split "train"): problem_idx 1-30 (16-30 are AIME II), problem, answer.
# No machine of this project reaches the hub, so the revision could not be resolved to a commit here:
# "main" is used, the resolved source is recorded in Task.source, and Task.content_hash pins the data.
HUB = {
    "aime24": {"repo": "HuggingFaceH4/aime_2024", "split": "train", "revision": "main", "year": 2024},
    "aime25": {"repo": "MathArena/aime_2025", "split": "train", "revision": "main", "year": 2025},
}
YEARS = {name: spec["year"] for name, spec in HUB.items()}
FILE_STEMS = {"aime24": ["aime24", "aime_2024", "aime2024"], "aime25": ["aime25", "aime_2025", "aime2025"]}
ID_RE = re.compile(r"^(20\d\d)-(I|II)-([1-9]|1[0-5])$")
URL_RE = re.compile(r"(20\d\d)_AIME_(I|II)_Problems/Problem_(\d+)")


def load(name: str, *, source: str | os.PathLike | None = None, **options) -> Task:
    """Load a task by name: "aime24", "aime25", or "synthetic" (options: seed, size, difficulty).

    `source` is a local .jsonl/.parquet file or a folder holding `aime24.jsonl`-style files, or
    "hub:<dataset id>". Without it, $HARNESS_DATA_DIR is used when set, else the hub.
    A spec string such as "synthetic:difficulty=3,size=200,seed=1" is accepted too (handy on the CLI).
    """
    name, options = _parse_spec(name, options)
    if name == "synthetic":
        from tasks.synthetic import generate

        try:
            problems = generate(**options)
        except (TypeError, ValueError) as exc:
            raise TaskError(f"synthetic task: {exc}") from None
        params = ",".join(f"{k}={v}" for k, v in sorted(options.items()))
        return Task("synthetic", problems, f"generated:synthetic({params})")
    if name not in YEARS:
        raise TaskError(f"unknown task {name!r}; known: aime24, aime25, synthetic")
    if options:
        raise TaskError(f"task {name!r} takes no options (got {', '.join(options)})")

    if source is None and os.environ.get("HARNESS_DATA_DIR"):
        source = os.environ["HARNESS_DATA_DIR"]
    if source is None or str(source).startswith("hub:"):
        return _load_hub(name, str(source)[4:] if source else None)
    return _load_local(name, Path(source))


def generated_spec(source: str | None) -> str | None:
    """The spec that regenerates a generated task from its recorded source:
    "generated:synthetic(difficulty=1,seed=1,size=32)" -> "synthetic:difficulty=1,seed=1,size=32"; else None."""
    m = re.fullmatch(r"generated:(\w+)\((.*)\)", source or "")
    return None if m is None else (f"{m[1]}:{m[2]}" if m[2] else m[1])


def split_names(text: str) -> list[str]:
    """A comma-separated task list whose specs may hold commas themselves:
    "aime24,synthetic:difficulty=2,size=64,seed=1" -> ["aime24", "synthetic:difficulty=2,size=64,seed=1"]
    (a `key=value` item without a ':' continues the spec before it)."""
    names: list[str] = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        if names and "=" in item and ":" not in item and ":" in names[-1]:
            names[-1] += "," + item
        else:
            names.append(item)
    return list(dict.fromkeys(names))


def _parse_spec(name: str, options: dict) -> tuple[str, dict]:
    if ":" not in name:
        return name, dict(options)
    base, _, rest = name.partition(":")
    parsed = dict(options)
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not value.lstrip("-").isdigit():
            raise TaskError(f"bad task option {item!r} in {name!r}; expected key=integer")
        parsed[key.strip()] = int(value)
    return base, parsed


def _load_local(name: str, path: Path) -> Task:
    if path.is_dir():
        candidates = [path / f"{stem}{ext}" for stem in FILE_STEMS[name] for ext in (".jsonl", ".parquet")]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise TaskError(f"{path}: no {name} data (looked for {', '.join(c.name for c in candidates[:2])}, ...)")
        path = found[0]
    elif not path.is_file():
        raise TaskError(f"{path}: no such file or folder")
    rows = read_rows(path)
    return _build(name, rows, str(path))


def read_rows(path: Path) -> list[dict]:
    """Rows of a local .jsonl/.parquet file through `datasets`; any problem is one TaskError line."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".parquet"):
        raise TaskError(f"{path}: unsupported file type {suffix or '(none)'}; use .jsonl or .parquet")
    if suffix in (".jsonl", ".json"):
        _check_json_lines(path)  # datasets' own error for a bad line does not say which line
    builder = "parquet" if suffix == ".parquet" else "json"
    try:
        ds = datasets.load_dataset(builder, data_files=str(path), split="train")
    except Exception as exc:  # datasets wraps parse failures in several exception types
        raise TaskError(f"{path}: cannot read as {builder}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    return ds.to_list()


def _check_json_lines(path: Path) -> None:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                json.loads(raw)
            except ValueError:
                raise TaskError(f"{path}: line {lineno} is not valid JSON") from None


def _load_hub(name: str, repo: str | None) -> Task:
    import datasets

    spec = dict(HUB[name])
    if repo:
        spec.update(repo=repo, revision=None)
    datasets.disable_progress_bars()
    try:
        ds = datasets.load_dataset(spec["repo"], split=spec["split"], revision=spec["revision"])
    except Exception as exc:  # network, auth or missing-dataset errors all end here
        hint = " (set HARNESS_DATA_DIR or pass --data to use a local copy)"
        raise TaskError(f"hub dataset {spec['repo']}: {type(exc).__name__}: {str(exc).splitlines()[0]}{hint}") from None
    return _build(name, ds.to_list(), f"hub:{spec['repo']}@{spec['revision'] or 'default'}")


def _build(name: str, rows: list[dict], where: str) -> Task:
    year = YEARS[name]
    problems: list[Problem] = []
    for index, row in enumerate(rows):
        problem = _map_row(row, index, year, where)
        if problem is not None:
            problems.append(problem)
    _validate(name, problems, year, where)
    problems.sort(key=lambda p: _id_order(p.id))
    return Task(name, problems, where)


def _map_row(row: dict, index: int, year: int, where: str) -> Problem | None:
    """Our columns (id, problem, answer), H4's (url) or MathArena's (problem_idx) -> Problem.

    Returns None for rows of another year, so one file may hold both contests' years.
    """
    label = f"{where}: row {index + 1}"
    pid = _row_id(row, year, label)
    if pid is None:
        return None
    label = f"{where}: row {pid}"
    question = row.get("problem", row.get("question"))
    if not isinstance(question, str) or not question.strip():
        raise TaskError(f"{label}: missing or empty problem text")
    answer = _normalise_answer(row.get("answer"), label)
    meta = {k: v for k, v in row.items() if k in ("source", "url")}
    return Problem(pid, question.strip(), answer, meta)


def _row_id(row: dict, year: int, label: str) -> str | None:
    url = URL_RE.search(row["url"]) if isinstance(row.get("url"), str) else None
    if url:
        y, contest, number = url.groups()
        pid = f"{y}-{contest}-{int(number)}"
    elif isinstance(row.get("id"), str):
        pid = row["id"].strip()
    elif row.get("problem_idx") is not None:
        idx = _as_int(row["problem_idx"], f"{label}: problem_idx")
        if not 1 <= idx <= 30:
            raise TaskError(f"{label}: problem_idx {idx} outside 1-30")
        pid = f"{year}-{'I' if idx <= 15 else 'II'}-{idx if idx <= 15 else idx - 15}"
    else:
        raise TaskError(f"{label}: no problem id (expected an 'id' like '{year}-I-1', an AoPS 'url' or 'problem_idx')")
    match = ID_RE.match(pid)
    if not match:
        raise TaskError(f"{label}: bad problem id {pid!r} (expected like '{year}-I-1' ... '{year}-II-15')")
    return pid if int(match.group(1)) == year else None


def _normalise_answer(value, label: str) -> str:
    if isinstance(value, bool) or value is None:
        raise TaskError(f"{label}: missing answer")
    text = str(value).strip()
    if not re.fullmatch(r"\d{1,3}", text):
        raise TaskError(f"{label}: answer {value!r} is not an integer 0-999")
    return str(int(text))


def _as_int(value, label: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TaskError(f"{label} {value!r} is not an integer") from None


def _validate(name: str, problems: list[Problem], year: int, where: str) -> None:
    seen: set[str] = set()
    for p in problems:
        if p.id in seen:
            raise TaskError(f"{where}: row {p.id}: duplicate problem id")
        seen.add(p.id)
    expected = {f"{year}-{c}-{n}" for c in ("I", "II") for n in range(1, 16)}
    if seen != expected:
        missing = sorted(expected - seen, key=_id_order)
        found = f"found {len(seen)}"
        if missing:
            found += f", missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "")
        raise TaskError(f"{where}: {name} needs exactly 30 problems {year}-I-1 ... {year}-II-15; {found}")


def _id_order(pid: str) -> tuple[int, int, int]:
    year, contest, number = pid.split("-")
    return int(year), 0 if contest == "I" else 1, int(number)
