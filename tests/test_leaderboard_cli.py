"""`harness leaderboard` and `harness compare` through harness.cli.main on synthetic runs."""

from __future__ import annotations

import csv
import io
import shutil

import pyarrow as pa
import pytest

from harness import leaderboard
from harness.cli import main
from tests.synthetic_runs import make_samples, manifest
from tests.test_leaderboard import write_v0_leaderboard

CURVE = (4096, 8192, 20480, 29696)
ASKED = (20480, 29696)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results folder with a strong and a weak checkpoint, and a twin of the strong one."""
    root = tmp_path_factory.mktemp("results")
    lb = root / "leaderboard.parquet"
    strong = make_samples("run-strong", "/ckpts/top20", skill=0.8, budgets=CURVE, n=8, problems=20, seed=1)
    weak = make_samples("run-weak", "/ckpts/alltok", skill=0.3, budgets=CURVE, n=8, problems=20, seed=2)
    twin = strong.set_column(0, "run_id", pa.array(["run-twin"] * strong.num_rows))
    twin = twin.set_column(
        twin.schema.get_field_index("checkpoint"), "checkpoint", pa.array(["/ckpts/twin"] * twin.num_rows)
    )
    for rid, ck, table in [
        ("run-strong", "/ckpts/top20", strong),
        ("run-weak", "/ckpts/alltok", weak),
        ("run-twin", "/ckpts/twin", twin),
    ]:
        leaderboard.append_run(lb, table, manifest(rid, ck, budgets=ASKED))
    return root


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_leaderboard_table_groups_by_task_and_budget_best_first(results, capsys):
    code, out, _ = run_cli(capsys, "leaderboard", "--results", str(results))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["checkpoint", "task", "budget"]
    body = [line.split() for line in lines[2:]]
    assert len(body) == 3 * 2 * 2  # checkpoints x tasks x requested budgets; curve points hidden
    assert [(b[1], b[2]) for b in body][:3] == [("aime24", "20480")] * 3
    assert body[2][0] == "/ckpts/alltok"  # the weakest last within its group
    avgs = [float(b[5]) for b in body[:3]]
    assert avgs == sorted(avgs, reverse=True)


def test_leaderboard_filters_curve_and_csv_export(results, capsys, tmp_path):
    out_file = tmp_path / "lb.csv"
    code, _, err = run_cli(
        capsys,
        "leaderboard",
        "--results",
        str(results / "leaderboard.parquet"),
        "--task",
        "aime25",
        "--budget",
        "4096,20480",
        "--curve",
        "--format",
        "csv",
        "--out",
        str(out_file),
    )
    assert code == 0 and "wrote" in err
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert {(r["task"], r["budget"]) for r in rows} == {("aime25", "4096"), ("aime25", "20480")}
    assert {r["curve_point"] for r in rows} == {"True", "False"}
    stored = {
        (r["run_id"], r["budget"]): r["avg"]
        for r in leaderboard.read(results / "leaderboard.parquet").to_pylist()
        if r["task"] == "aime25"
    }
    assert all(float(r["avg"]) == stored[(r["run_id"], int(r["budget"]))] for r in rows)  # full precision


def test_leaderboard_markdown_sorted_by_maj_at_k(results, capsys):
    code, out, _ = run_cli(
        capsys,
        "leaderboard",
        "--results",
        str(results),
        "--format",
        "markdown",
        "--sort",
        "maj@8",
        "--ascending",
        "--task",
        "aime24",
        "--budget",
        "29696",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("| checkpoint | task | budget |") and lines[1].startswith("|---|")
    assert lines[2].split(" | ")[0] == "| /ckpts/alltok"


def test_compare_reports_scores_differences_gains_and_plot(results, capsys, tmp_path):
    png = tmp_path / "curve.png"
    code, out, err = run_cli(
        capsys, "compare", "top20", "alltok", "twin", "--results", str(results), "--plot", str(png), "--iters", "2000"
    )
    assert code == 0
    assert "avg@n per checkpoint" in out and "paired difference" in out and "budget gain" in out
    diff_lines = [line for line in out.splitlines() if line.startswith("aime") and " - " in line]
    assert len(diff_lines) == 2 * 2 * 2  # tasks x budgets x (alltok, twin)
    assert all("top20 better" in line for line in diff_lines if "alltok" in line)
    assert all("not distinguishable at this n" in line for line in diff_lines if "twin" in line)
    assert "20480 -> 29696" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {png}" in err

    import matplotlib.image

    height, width = matplotlib.image.imread(png).shape[:2]
    assert width > 800 and height > 400


def test_compare_by_run_id_as_csv(results, capsys):
    code, out, _ = run_cli(
        capsys,
        "compare",
        "run-strong",
        "run-weak",
        "--results",
        str(results),
        "--no-plot",
        "--format",
        "csv",
        "--task",
        "aime24",
        "--iters",
        "500",
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    kinds = [r["kind"] for r in rows]
    assert kinds.count("score") == 4 and kinds.count("difference") == 2 and kinds.count("budget gain") == 2
    assert all(r["verdict"] == "run-strong better" for r in rows if r["kind"] == "difference")
    assert not (results / "accuracy_vs_budget.png").exists()


def test_paper_table(results, capsys):
    code, out, _ = run_cli(capsys, "compare", "--paper-table", "--results", str(results), "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "| checkpoint | AIME'24 @20k | AIME'24 @29k | AIME'25 @20k | AIME'25 @29k |"
    assert [line.split(" | ")[0] for line in lines[2:5]] == ["| alltok", "| top20", "| twin"]
    assert lines[5:] == ["", "answer policy: after-think (tasks/policy.py)"]  # the fixture's rows carry no policy
    stored = {
        (r["checkpoint"], r["task"], r["budget"]): r["avg"]
        for r in leaderboard.read(results / "leaderboard.parquet").to_pylist()
    }
    top = lines[3].strip("| ").split(" | ")
    assert top[1] == f"{100 * stored[('/ckpts/top20', 'aime24', 20480)]:.1f}"


def test_compare_against_an_old_row_says_it_cannot_pair(tmp_path, capsys):
    lb = tmp_path / "leaderboard.parquet"
    write_v0_leaderboard(lb)
    leaderboard.append_run(
        lb, make_samples("new", "/ckpts/new", budgets=(20480,)), manifest("new", "/ckpts/new", (20480,))
    )
    code, out, _ = run_cli(capsys, "compare", "new", "Qwen3-8B-dapo", "--results", str(tmp_path), "--no-plot")
    assert code == 0
    assert "no per-problem scores to pair" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["leaderboard", "--results", "{missing}"], "no leaderboard at"),
        (["leaderboard", "--results", "{results}", "--task", "aime99"], "no rows for task(s) aime99"),
        (["leaderboard", "--results", "{results}", "--sort", "speed"], "unknown --sort metric"),
        (["leaderboard", "--results", "{results}", "--sort", "pass@K"], "pass@K or maj@K"),
        (["leaderboard", "--results", "{results}", "--budget", "20k"], "comma-separated integers"),
        (["leaderboard", "--results", "{corrupt}"], "cannot read leaderboard"),
        (["compare", "nobody", "--results", "{results}"], "nothing on the leaderboard matches 'nobody'"),
        (["compare", "--results", "{results}"], "name at least one checkpoint"),
        (["compare", "top20", "top20", "--results", "{results}"], "named once"),
        (["compare", "same", "--results", "{twins}"], "names several checkpoints"),
        (["compare", "top20", "--results", "{results}", "--iters", "0"], "--iters must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(results, tmp_path, capsys, argv, message):
    corrupt = tmp_path / "bad" / "leaderboard.parquet"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"not parquet at all")
    twins = tmp_path / "twins" / "leaderboard.parquet"
    for rid, ck in [("r1", "/a/same"), ("r2", "/b/same")]:
        leaderboard.append_run(twins, make_samples(rid, ck, budgets=(100,), problems=2, n=1), manifest(rid, ck, (100,)))
    paths = {
        "missing": str(tmp_path / "nowhere"),
        "results": str(results),
        "corrupt": str(corrupt.parent),
        "twins": str(twins.parent),
    }
    code, out, err = run_cli(capsys, *[a.format(**paths) for a in argv])
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_leaderboard_survives_a_copy_of_results(results, tmp_path, capsys):
    # A committed results/ folder moved elsewhere still reads: nothing in it points at absolute paths.
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    assert run_cli(capsys, "leaderboard", "--results", str(copy))[0] == 0


def test_a_checkpoint_with_two_runs_uses_the_latest(tmp_path, capsys):
    lb = tmp_path / "leaderboard.parquet"
    for rid, date, skill in [
        ("old-run", "2025-01-01T00:00:00+00:00", 0.0),
        ("new-run", "2025-02-01T00:00:00+00:00", 1.0),
    ]:
        info = dict(manifest(rid, "/ckpts/m", (100,)), finished_at=date)
        leaderboard.append_run(lb, make_samples(rid, "/ckpts/m", budgets=(100,), problems=3, n=2, skill=skill), info)
    code, out, err = run_cli(capsys, "compare", "m", "--results", str(tmp_path), "--no-plot", "--format", "csv")
    assert code == 0 and "matches 2 runs" in err
    assert {r["run_id"] for r in csv.DictReader(io.StringIO(out))} == {"new-run"}
