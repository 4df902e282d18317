"""The task registry: built-in AIME'24/'25/'26, file:PATH tasks with free-form answers, YAML/Python
registration, and bad files that end in one TaskError line (exit 2 on the CLI)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tasks
from tasks import TaskError, TaskSpec, loading, registry


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


FREE = [
    {"question": "Simplify $\\frac{2}{4}$.", "answer": "\\frac{1}{2}"},
    {"question": "Solve $x^2=4$, $x>0$.", "solution": "Since $x>0$, $x=\\boxed{2}$."},
    {"question": "Give the interval where $x^2<1$.", "answer": "(-1, 1)"},
]


def test_aime26_is_built_in_with_the_corrected_problem(data_dir):
    t = tasks.load("aime26")
    assert len(t) == 30 and t.kind == "integer" and t.name == "aime26"
    assert t.problems[0].id == "2026-I-1" and t.problems[-1].id == "2026-II-15"
    ii10 = next(p for p in t.problems if p.id == "2026-II-10")
    assert ii10.answer == "340" and "greatest possible value of" in ii10.question  # ../shared/data/README.md
    assert {p.id: p.answer for p in t.problems}["2026-I-1"] == "277"
    assert registry.title("aime26") == "AIME'26" and registry.get("aime26").size == 30


def test_hub_copy_of_aime26_gets_the_documented_correction():
    """MathArena/aime_2026's II-10 asks for a sum (850); the spec's fix restores the statement of the file."""
    text = "Suppose ... Find the sum of all possible values of $BC.$"
    rows = [{"problem_idx": i, "problem": f"Problem {i}", "answer": str(i)} for i in range(1, 31)]
    rows[24] = {"problem_idx": 25, "problem": text, "answer": "850"}
    t = loading._build(registry.get("aime26"), "aime26", rows, "hub:MathArena/aime_2026@default", fix=True)
    fixed = next(p for p in t.problems if p.id == "2026-II-10")
    assert fixed.answer == "340" and "greatest possible value of $BC.$" in fixed.question
    assert "corrected: 2026-II-10" in t.source
    assert (
        loading._build(registry.get("aime26"), "aime26", rows, "x.jsonl").problems[24].answer == "850"
    )  # local: as is


def test_file_task_jsonl_free_answers_and_boxed_solution(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", FREE)
    t = tasks.load(f"file:{path}")
    assert t.name == f"file:{path}" and t.kind == "free" and len(t) == 3
    assert [p.id for p in t.problems] == ["1", "2", "3"]
    assert [p.answer for p in t.problems] == ["\\frac{1}{2}", "2", "(-1, 1)"]
    assert t.problems[0].question.startswith("Simplify")
    assert tasks.load(f"file:{path}").content_hash == t.content_hash
    assert tasks.grade("so \\boxed{0.5}", t.problems[0].answer).correct


def test_file_task_parquet_with_problem_and_ids(tmp_path):
    table = pa.table({"id": ["a", "b"], "problem": ["What is 1+1?", "Name $\\pi$ to 2 places."], "answer": [2, 314]})
    pq.write_table(table, tmp_path / "x.parquet")
    t = tasks.load(f"file:{tmp_path / 'x.parquet'}")
    assert [(p.id, p.answer) for p in t.problems] == [("a", "2"), ("b", "314")]


@pytest.mark.parametrize(
    "records, message",
    [
        (
            [{"text": "q", "answer": "1"}],
            "row 1: missing or empty problem text (looked for problem/question; has text, answer)",
        ),
        ([{"question": "q"}], "row 1: missing answer"),
        (
            [{"question": "q", "solution": "no box here"}],
            "row 1: no answer column, and its 'solution' has no complete \\boxed{}",
        ),
        (
            [{"id": "p", "question": "q", "answer": "1"}, {"id": "p", "question": "r", "answer": "2"}],
            "row p: duplicate problem id",
        ),
    ],
)
def test_bad_file_task_is_one_line(tmp_path, records, message):
    path = write_jsonl(tmp_path / "bad.jsonl", records)
    with pytest.raises(TaskError) as err:
        tasks.load(f"file:{path}")
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file_is_one_clear_error(tmp_path, data_dir, content):
    """An empty or blank data file is one clear TaskError (it once crashed the loader with IndexError)."""
    path = tmp_path / "aime24.jsonl"
    path.write_bytes(content)
    for load in (
        lambda: tasks.load("aime24", source=path),
        lambda: tasks.load(f"file:{path}"),
        lambda: tasks.load("aime24", source=tmp_path),
    ):
        with pytest.raises(TaskError, match="empty file|no rows"):
            load()
    pq.write_table(
        pa.table({"question": pa.array([], pa.string()), "answer": pa.array([], pa.string())}), tmp_path / "e.parquet"
    )
    with pytest.raises(TaskError, match="no rows"):
        tasks.load(f"file:{tmp_path / 'e.parquet'}")


def test_empty_file_in_training_data_is_a_config_error(tmp_path):
    from train.config import ConfigError
    from train.data import load_items

    (tmp_path / "d.jsonl").write_bytes(b"")
    for spec in (str(tmp_path / "d.jsonl"), f"file:{tmp_path / 'd.jsonl'}"):
        with pytest.raises(ConfigError, match="empty file"):
            load_items(spec, "boxed")


def test_training_data_takes_every_task_spec(tmp_path, data_dir):
    from train.data import load_items

    items = load_items("aime26", "boxed")
    assert len(items) == 30 and items[24].answer == "340" and "\\boxed{}" in items[0].messages[-1]["content"]
    path = write_jsonl(tmp_path / "f.jsonl", FREE)
    assert [i.answer for i in load_items(f"file:{path}", "plain")] == ["\\frac{1}{2}", "2", "(-1, 1)"]


def test_none_and_bad_names_are_one_clear_error():
    """tasks.load(None), a blank or non-string name, or an unknown task is one clear TaskError, not a raw TypeError."""
    for bad in (None, "", 3, "   "):
        with pytest.raises(TaskError, match="task name must be a non-empty string"):
            tasks.load(bad)
    with pytest.raises(TaskError, match="unknown task 'aime23'; known: aime24, aime25, aime26, synthetic"):
        tasks.load("aime23")
    with pytest.raises(TaskError, match="needs a path"):
        tasks.load("file:")


def test_register_in_python_and_the_integer_kind_is_validated(tmp_path):
    good = write_jsonl(tmp_path / "g.jsonl", [{"id": f"q{i}", "problem": "p", "answer": str(i)} for i in range(3)])
    spec = tasks.register(
        TaskSpec("pytest-int", kind="integer", path=str(good), size=3, id_pattern=r"q\d+"), replace=True
    )
    assert [p.answer for p in tasks.load("pytest-int").problems] == ["0", "1", "2"]
    assert registry.is_task("pytest-int") and spec in [registry.get(n) for n in registry.names()]
    bad = write_jsonl(tmp_path / "b.jsonl", [{"id": "q1", "problem": "p", "answer": "1/2"}])
    tasks.register(TaskSpec("pytest-int", kind="integer", path=str(bad)), replace=True)
    with pytest.raises(TaskError, match=r"row q1: answer '1/2' is not an integer 0-999"):
        tasks.load("pytest-int")
    tasks.register(TaskSpec("pytest-int", kind="free", path=str(good), size=4), replace=True)
    with pytest.raises(TaskError, match="needs exactly 4 problems; found 3"):
        tasks.load("pytest-int")
    tasks.register(TaskSpec("pytest-int", kind="free", path=str(good), id_pattern=r"p\d"), replace=True)
    with pytest.raises(TaskError, match="row q0: id does not match"):
        tasks.load("pytest-int")
    with pytest.raises(TaskError, match="already registered"):
        tasks.register(TaskSpec("aime24"), replace=True)
    with pytest.raises(TaskError, match="kind must be one of integer, free"):
        TaskSpec("x", kind="text")


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def test_yaml_registration_and_harness_tasks_listing(tmp_path, data_dir):
    write_jsonl(tmp_path / "mine.jsonl", FREE)
    (tmp_path / "tasks.yaml").write_text("mine:\n  path: mine.jsonl\n  kind: free\n  size: 3\n  title: My set\n")
    proc = _cli("tasks", env={"HARNESS_TASKS": str(tmp_path / "tasks.yaml")})
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert list(lines) == ["aime24", "aime25", "aime26", "synthetic", "mine"]
    assert "30 problems" in lines["aime26"] and "AIME'26" in lines["aime26"]
    assert tasks.load("aime26").content_hash[:16] in lines["aime26"]
    assert "3 problems" in lines["mine"] and "free" in lines["mine"] and "My set" in lines["mine"]
    one = _cli("tasks", f"file:{tmp_path / 'mine.jsonl'}")
    assert one.returncode == 0 and "3 problems" in one.stdout


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("mine:\n  path: x.jsonl\n  colour: red\n", "unknown field(s) colour"),
        ("- a\n- b\n", "expected a mapping of task names"),
        ("mine: [\n", "not valid YAML"),
        ("Mine:\n  kind: free\n", "bad task name 'Mine'"),
    ],
)
def test_bad_yaml_is_one_line_exit_2(tmp_path, yaml_text, message):
    (tmp_path / "t.yaml").write_text(yaml_text)
    proc = _cli("tasks", env={"HARNESS_TASKS": str(tmp_path / "t.yaml")})
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_empty_file_on_the_cli_exits_2(tmp_path):
    (tmp_path / "e.jsonl").write_bytes(b"")
    proc = _cli("tasks", f"file:{tmp_path / 'e.jsonl'}")
    assert proc.returncode == 2 and "empty file (0 bytes)" in proc.stderr and "Traceback" not in proc.stderr
