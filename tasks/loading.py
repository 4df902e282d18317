"""`tasks.load`: a registered task (tasks/registry.py) or any `file:PATH`, from a local file, a folder or
the hub, validated; synthetic tasks.

Every source goes through `datasets` and then through one mapping onto our columns and one validator, so
a file and a hub copy of the same problems give the same `Task.content_hash`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tasks import registry
from tasks.errors import TaskError
from tasks.extract import box_run
from tasks.registry import TaskSpec
from tasks.types import Problem, Task

URL_RE = re.compile(r"(20\d\d)_AIME_(I|II)_Problems/Problem_(\d+)")
MAX_ID_CHARS = 200


def load(name: str, *, source: str | os.PathLike | None = None, **options) -> Task:
    """Load a task by name: "aime24", "aime25", "aime26", "synthetic" (options: seed, size, difficulty),
    any registered name (`harness tasks` lists them), or "file:PATH" for a .jsonl/.parquet file.

    `source` is a local .jsonl/.parquet file or a folder holding `aime24.jsonl`-style files, or
    "hub:<dataset id>". Without it, $HARNESS_DATA_DIR is used when set, else the hub. A task registered
    with its own `path` (and a file: task) always reads that file.
    A spec string such as "synthetic:difficulty=3,size=200,seed=1" is accepted too (handy on the CLI).
    """
    if not isinstance(name, str) or not name.strip():
        raise TaskError(f"task name must be a non-empty string such as 'aime24' or 'file:PATH' (got {name!r})")
    name = name.strip()
    if name.startswith(registry.FILE_PREFIX):
        if options:
            raise TaskError(f"task {name!r} takes no options (got {', '.join(options)})")
        spec = registry.file_spec(name)
        return _load_local(spec, Path(spec.path), name)
    name, options = _parse_spec(name, options)
    spec = registry.get(name)
    if name == "synthetic":
        from tasks.synthetic import generate

        try:
            problems = generate(**options)
        except (TypeError, ValueError) as exc:
            raise TaskError(f"synthetic task: {exc}") from None
        params = ",".join(f"{k}={v}" for k, v in sorted(options.items()))
        return Task("synthetic", problems, f"generated:synthetic({params})", spec.kind)
    if options:
        raise TaskError(f"task {name!r} takes no options (got {', '.join(options)})")
    if spec.path:
        return _load_local(spec, Path(spec.path), name)
    if source is None and os.environ.get("HARNESS_DATA_DIR"):
        source = os.environ["HARNESS_DATA_DIR"]
    if source is None or str(source).startswith("hub:"):
        return _load_hub(spec, str(source)[4:] if source else None)
    return _load_local(spec, Path(source), name)


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


def _load_local(spec: TaskSpec, path: Path, name: str) -> Task:
    if path.is_dir():
        if not spec.files:
            raise TaskError(f"{path}: a folder, but task {name} has no file names to look for; give the file")
        candidates = [path / f"{stem}{ext}" for stem in spec.files for ext in (".jsonl", ".parquet")]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise TaskError(f"{path}: no {name} data (looked for {', '.join(c.name for c in candidates[:2])}, ...)")
        path = found[0]
    elif not path.is_file():
        raise TaskError(f"{path}: no such file or folder")
    return _build(spec, name, read_rows(path), str(path))


def read_rows(path: Path) -> list[dict]:
    """Rows of a local .jsonl/.parquet file through `datasets`; any problem (an empty file too) is one TaskError line."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".parquet"):
        raise TaskError(f"{path}: unsupported file type {suffix or '(none)'}; use .jsonl or .parquet")
    try:
        if path.stat().st_size == 0:
            raise TaskError(f"{path}: empty file (0 bytes)")
    except OSError as exc:
        raise TaskError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if suffix in (".jsonl", ".json"):
        _check_json_lines(path)  # datasets' own error for a bad line does not say which line
    else:
        _check_parquet_rows(path)  # datasets fails on a parquet file with no rows ("BatchSize must be greater than 0")
    builder = "parquet" if suffix == ".parquet" else "json"
    try:
        ds = datasets.load_dataset(builder, data_files=str(path), split="train")
    except Exception as exc:  # datasets wraps parse failures in several exception types
        raise TaskError(f"{path}: cannot read as {builder}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    rows = ds.to_list()
    if not rows:
        raise TaskError(f"{path}: no rows")
    return rows


def _check_json_lines(path: Path) -> None:
    blank = True
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            blank = False
            try:
                json.loads(raw)
            except ValueError:
                raise TaskError(f"{path}: line {lineno} is not valid JSON") from None
    if blank:
        raise TaskError(f"{path}: no rows (only blank lines)")


def _hub_unreachable() -> str | None:
    """Why the hub cannot be reached, from one quick connection (None: reachable, or not ours to judge: offline
    mode uses the local cache, and a proxy may reach what a direct connection cannot). Without this, an
    offline machine spends ~25 s in the hub client's retries, printing a dozen warnings, before the same error."""
    import socket
    from urllib.parse import urlsplit

    if any(
        os.environ.get(v)
        for v in (
            "HF_HUB_OFFLINE",
            "HF_DATASETS_OFFLINE",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        )
    ):
        return None
    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=5).close()
    except OSError as exc:
        return f"{url.hostname}:{port} is unreachable ({exc.strerror or exc})"
    return None


def _check_parquet_rows(path: Path) -> None:
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as exc:  # pyarrow reports damaged files with several exception types
        raise TaskError(f"{path}: cannot read as parquet: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if rows == 0:
        raise TaskError(f"{path}: no rows")


def _load_hub(spec: TaskSpec, repo: str | None) -> Task:
    repo, revision = (repo, None) if repo else (spec.hub, spec.revision)
    if not repo:
        raise TaskError(f"task {spec.name} has no hub copy; give a local file (--data) or register a path")
    hint = " (set HARNESS_DATA_DIR or pass --data to use a local copy; HF_HUB_OFFLINE=1 to use the hub cache)"
    down = _hub_unreachable()
    if down:
        raise TaskError(f"hub dataset {repo}: {down}{hint}")
    import datasets

    datasets.disable_progress_bars()
    try:
        ds = datasets.load_dataset(repo, split=spec.split, revision=revision)
    except Exception as exc:  # network, auth or missing-dataset errors all end here
        raise TaskError(f"hub dataset {repo}: {type(exc).__name__}: {str(exc).splitlines()[0]}{hint}") from None
    return _build(spec, spec.name, ds.to_list(), f"hub:{repo}@{revision or 'default'}", fix=True)


def _build(spec: TaskSpec, name: str, rows: list[dict], where: str, *, fix: bool = False) -> Task:
    problems: list[Problem] = []
    for index, row in enumerate(rows):
        problem = _map_row(spec, row, index, where)
        if problem is not None:
            problems.append(problem)
    if fix and spec.fixes:
        problems, where = _apply_fixes(spec, problems, where)
    _validate(spec, name, problems, where)
    if spec.year is not None:
        problems.sort(key=lambda p: _id_order(p.id))
    return Task(name, problems, where, spec.kind)


def _apply_fixes(spec: TaskSpec, problems: list[Problem], where: str) -> tuple[list[Problem], str]:
    """A hub copy's known defect, corrected as the spec says; a copy that no longer has it is left alone."""
    out, fixed = [], set()
    for p in problems:
        question, answer = p.question, p.answer
        for pid, column, old, new in spec.fixes:
            if p.id == pid and column == "problem" and old in question:
                question, _ = question.replace(old, new), fixed.add(pid)
            elif p.id == pid and column == "answer" and answer == old:
                answer, _ = new, fixed.add(pid)
        out.append(Problem(p.id, question, answer, p.meta))
    return out, where + (f" (corrected: {', '.join(sorted(fixed))})" if fixed else "")


def _map_row(spec: TaskSpec, row: dict, index: int, where: str) -> Problem | None:
    """A row's question, answer and id as the spec says -> Problem; None for another year's row (AIME files
    may hold both contests' years)."""
    label = f"{where}: row {index + 1}"
    if spec.year is not None:
        pid = _aime_id(row, spec.year, label)
        if pid is None:
            return None
    else:
        pid = _plain_id(row, spec, index, label)
    label = f"{where}: row {pid}"
    qcol = next((c for c in spec.question if c in row), None)
    question = row.get(qcol) if qcol else None
    if not isinstance(question, str) or not question.strip():
        raise TaskError(
            f"{label}: missing or empty problem text (looked for {'/'.join(spec.question)}; has {', '.join(row)})"
        )
    acol = next((c for c in spec.answer if row.get(c) not in (None, "")), None)
    value = row.get(acol) if acol else None
    if acol in spec.solution:
        value = _boxed(value, label, acol)
    answer = _integer_answer(value, label) if spec.kind == "integer" else _free_answer(value, label)
    meta = {k: v for k, v in row.items() if k in ("source", "url", "note", "level", "subject", "type")}
    return Problem(pid, question.strip(), answer, meta)


def _boxed(solution, label: str, column: str) -> str:
    found = box_run(solution) if isinstance(solution, str) else None
    if not found or found[2] is None or not found[2].strip():
        raise TaskError(f"{label}: no answer column, and its {column!r} has no complete \\boxed{{}} answer")
    return found[2].strip()


def _plain_id(row: dict, spec: TaskSpec, index: int, label: str) -> str:
    value = row.get(spec.id)
    if value is None or isinstance(value, bool):
        return str(index + 1)
    pid = str(value).strip()
    if not pid or len(pid) > MAX_ID_CHARS or "\n" in pid:
        raise TaskError(f"{label}: bad problem id {value!r}")
    return pid


def _aime_id(row: dict, year: int, label: str) -> str | None:
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
    match = re.fullmatch(r"(20\d\d)-(I|II)-([1-9]|1[0-5])", pid)
    if not match:
        raise TaskError(f"{label}: bad problem id {pid!r} (expected like '{year}-I-1' ... '{year}-II-15')")
    return pid if int(match.group(1)) == year else None


def _integer_answer(value, label: str) -> str:
    if isinstance(value, bool) or value is None:
        raise TaskError(f"{label}: missing answer")
    text = str(value).strip()
    if not re.fullmatch(r"\d{1,3}", text):
        raise TaskError(f"{label}: answer {value!r} is not an integer 0-999")
    return str(int(text))


def _free_answer(value, label: str) -> str:
    if isinstance(value, bool) or value is None:
        raise TaskError(f"{label}: missing answer")
    if isinstance(value, float) and value != value:
        raise TaskError(f"{label}: answer is NaN")
    text = (repr(value) if isinstance(value, float) else str(value)).strip()
    if not text:
        raise TaskError(f"{label}: missing answer")
    return text


def _as_int(value, label: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TaskError(f"{label} {value!r} is not an integer") from None


def _validate(spec: TaskSpec, name: str, problems: list[Problem], where: str) -> None:
    seen: set[str] = set()
    for p in problems:
        if p.id in seen:
            raise TaskError(f"{where}: row {p.id}: duplicate problem id")
        if spec.id_pattern and not re.fullmatch(spec.id_pattern, p.id):
            raise TaskError(f"{where}: row {p.id}: id does not match {spec.id_pattern!r}")
        seen.add(p.id)
    if spec.year is not None:
        year = spec.year
        expected = {f"{year}-{c}-{n}" for c in ("I", "II") for n in range(1, 16)}
        if seen != expected:
            missing = sorted(expected - seen, key=_id_order)
            found = f"found {len(seen)}"
            if missing:
                found += f", missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "")
            raise TaskError(f"{where}: {name} needs exactly 30 problems {year}-I-1 ... {year}-II-15; {found}")
    if not problems:
        raise TaskError(f"{where}: no problems")
    if spec.size is not None and len(problems) != spec.size:
        raise TaskError(f"{where}: {name} needs exactly {spec.size} problems; found {len(problems)}")


def _id_order(pid: str) -> tuple[int, int, int]:
    year, contest, number = pid.split("-")
    return int(year), 0 if contest == "I" else 1, int(number)
