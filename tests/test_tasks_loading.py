"""tasks.load on the real AIME files (through $HARNESS_DATA_DIR) and on corrupted copies of them."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tasks
from tasks import TaskError

# Independent spot checks of known answers (from the contests' official answer keys).
KNOWN = {
    "2024-I-1": "204",
    "2024-I-2": "25",
    "2024-I-12": "385",
    "2024-II-8": "127",
    "2025-I-1": "70",
    "2025-II-15": "240",
}


def rows(data_dir: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (data_dir / f"{name}.jsonl").read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_loads_sixty_problems_with_right_answers():
    a24, a25 = tasks.load("aime24"), tasks.load("aime25")
    assert [len(a24), len(a25)] == [30, 30]
    assert a24.problems[0].id == "2024-I-1" and a24.problems[-1].id == "2024-II-15"
    assert a25.problems[15].id == "2025-II-1"
    answers = {p.id: p.answer for p in a24.problems + a25.problems}
    for pid, answer in KNOWN.items():
        assert answers[pid] == answer
    assert all(0 <= int(a) <= 999 and a == str(int(a)) for a in answers.values())
    assert "inside" in next(p.question for p in a24.problems if p.id == "2024-II-8")  # the official wording


def test_content_hash_is_stable_and_sensitive(tmp_path, data_dir):
    a = tasks.load("aime24")
    assert a.content_hash == tasks.load("aime24", source=data_dir / "aime24.jsonl").content_hash
    recs = rows(data_dir, "aime24")
    recs[3]["problem"] += " "  # trailing whitespace is normalised away
    assert tasks.load("aime24", source=write_jsonl(tmp_path / "a.jsonl", recs)).content_hash == a.content_hash
    recs[3]["answer"] = "7"
    assert tasks.load("aime24", source=write_jsonl(tmp_path / "b.jsonl", recs)).content_hash != a.content_hash


def test_padded_answers_and_row_order_do_not_matter(tmp_path, data_dir):
    recs = rows(data_dir, "aime24")
    recs[1]["answer"] = "025"
    task = tasks.load("aime24", source=write_jsonl(tmp_path / "aime24.jsonl", list(reversed(recs))))
    assert task.problems[1].answer == "25"
    assert task.content_hash == tasks.load("aime24").content_hash
    assert task.source.endswith("aime24.jsonl")


def test_parquet_with_hub_columns(tmp_path, data_dir):
    """HuggingFaceH4/aime_2024's columns (integer id, AoPS url) map onto ours."""
    recs = rows(data_dir, "aime24")
    table = pa.table(
        {
            "id": list(range(60, 90)),
            "problem": [r["problem"] for r in recs],
            "solution": ["..."] * 30,
            "answer": [r["answer"].zfill(3) for r in recs],
            "url": [
                f"https://artofproblemsolving.com/wiki/index.php/{r['year']}_AIME_{r['contest']}_Problems/Problem_{r['number']}"
                for r in recs
            ],
            "year": ["2024"] * 30,
        }
    )
    pq.write_table(table, tmp_path / "train.parquet")
    assert tasks.load("aime24", source=tmp_path / "train.parquet").content_hash == tasks.load("aime24").content_hash


def test_problem_idx_columns(tmp_path, data_dir):
    """MathArena/aime_2025's columns: problem_idx 1-30, 16-30 being AIME II."""
    recs = rows(data_dir, "aime25")
    out = [{"problem_idx": i + 1, "problem": r["problem"], "answer": int(r["answer"])} for i, r in enumerate(recs)]
    assert (
        tasks.load("aime25", source=write_jsonl(tmp_path / "x.jsonl", out)).content_hash
        == tasks.load("aime25").content_hash
    )


def test_one_file_with_both_years(tmp_path, data_dir):
    both = write_jsonl(tmp_path / "both.jsonl", rows(data_dir, "aime24") + rows(data_dir, "aime25"))
    assert len(tasks.load("aime24", source=both)) == len(tasks.load("aime25", source=both)) == 30


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda r: r[4].update(answer="12.5"), "row 2024-I-5: answer '12.5' is not an integer 0-999"),
        (lambda r: r[4].update(answer="1000"), "row 2024-I-5: answer '1000' is not an integer 0-999"),
        (lambda r: r[7].pop("answer"), "row 2024-I-8: missing answer"),
        (lambda r: r[9].update(problem="  "), "row 2024-I-10: missing or empty problem text"),
        (lambda r: r[2].update(id="2024-III-3"), "bad problem id '2024-III-3'"),
        (lambda r: r[2].update(id="2024-I-2"), "row 2024-I-2: duplicate problem id"),
        (lambda r: r.pop(), "found 29, missing 2024-II-15"),
    ],
)
def test_corrupted_copy_fails_with_one_clear_error(tmp_path, data_dir, corrupt, message):
    recs = rows(data_dir, "aime24")
    corrupt(recs)
    path = write_jsonl(tmp_path / "aime24.jsonl", recs)
    with pytest.raises(TaskError) as err:
        tasks.load("aime24", source=path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_broken_json_line_is_named(tmp_path, data_dir):
    lines = (data_dir / "aime24.jsonl").read_text().splitlines()
    lines[6] = lines[6][:40]
    path = tmp_path / "aime24.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TaskError, match="line 7 is not valid JSON"):
        tasks.load("aime24", source=path)


def test_missing_sources_and_unknown_names(tmp_path):
    with pytest.raises(TaskError, match="no such file or folder"):
        tasks.load("aime24", source=tmp_path / "nope.jsonl")
    with pytest.raises(TaskError, match="no aime25 data"):
        tasks.load("aime25", source=tmp_path)
    with pytest.raises(TaskError, match="unknown task 'aime23'"):
        tasks.load("aime23")
    with pytest.raises(TaskError, match="unknown template"):
        tasks.get_template("nope")


def test_cli_corrupted_copy_prints_one_line(tmp_path, data_dir):
    recs = rows(data_dir, "aime25")
    recs[0]["answer"] = "seventy"
    write_jsonl(tmp_path / "aime25.jsonl", recs)
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "tasks", "aime25", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "row 2025-I-1: answer 'seventy'" in proc.stderr
    assert "Traceback" not in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "harness.cli", "tasks"], capture_output=True, text=True)
    assert ok.returncode == 0 and "aime24" in ok.stdout and "30 problems" in ok.stdout


def test_templates_are_named_data():
    boxed, dapo = tasks.get_template("boxed"), tasks.get_template("dapo")
    assert boxed.render("What is 1+1?").startswith("What is 1+1?") and "\\boxed{}" in boxed.render("x")
    assert dapo.render("Q").count("Answer: $Answer") == 1 and "\nQ\n" in dapo.render("Q")
    assert boxed.hash != dapo.hash and len(boxed.hash) == 16


def test_synthetic_is_seeded_exact_and_scales_with_difficulty():
    a = tasks.load("synthetic", seed=3, size=50, difficulty=3)
    assert a.problems == tasks.load("synthetic:seed=3,size=50,difficulty=3").problems
    assert a.content_hash != tasks.load("synthetic", seed=4, size=50, difficulty=3).content_hash
    for p in a.problems:
        expr = p.question.removeprefix("Compute ").removesuffix(". Give the result as an integer.")
        assert expr.count("(") == 2 and int(p.answer) == _evaluate(expr) and 0 <= int(p.answer) <= 999
    easy = tasks.load("synthetic", difficulty=1, size=5).problems[0].question
    assert "(" not in easy
    with pytest.raises(TaskError, match="difficulty"):
        tasks.load("synthetic", difficulty=0)


def _evaluate(expr: str) -> int:
    """Reference evaluator for '((a op b) op c) op d' built from our own generator's digits and operators."""
    import ast
    import operator

    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}

    def walk(node):
        if isinstance(node, ast.BinOp):
            return ops[type(node.op)](walk(node.left), walk(node.right))
        assert isinstance(node, ast.Constant) and isinstance(node.value, int)
        return node.value

    return walk(ast.parse(expr, mode="eval").body)
