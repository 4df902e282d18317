"""`harness study` end to end on CPU: a tiny random model (tests/train_tiny.py), 2 arms x 2 seeds x 2 steps,
HF backend, through the real CLI in real subprocesses (one of them killed with SIGKILL mid-study)."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from harness.cli import main
from tests import train_tiny
from tests.train_tiny import build

REPO = Path(__file__).resolve().parents[1]
# tests/train_tiny.TRAIN (the tiny model's quick run), two steps and a larger learning rate, on the hf rollout
TRAIN = {**train_tiny.TRAIN, "steps": 2, "lr": 1e-3, "backend": "hf"}
EVAL = {
    "tasks": ["synthetic:difficulty=1,size=6,seed=7"],
    "n": 2,
    "budgets": [8, 12],
    "temperature": 1.0,
    "top_p": 1.0,
    "template": "plain",
    "backend": "hf",
}
ARMS = [{"name": "all", "rho": 1.0}, {"name": "top", "rho": 0.2}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tiny") / "model")


def write_study(path: Path, tiny_model, **over) -> Path:
    study = {
        "out": str(path.parent / "study"),
        "base": str(tiny_model),
        "train": dict(TRAIN),
        "arms": ARMS,
        "seeds": [0, 1],
        "eval": dict(EVAL),
        "entropy": {"rho": 0.2},
    }
    study.update(over)
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def harness(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True, env=env, cwd=REPO, **kw
    )


@pytest.fixture(scope="module")
def finished(tiny, tmp_path_factory):
    """One uninterrupted study, shared by the tests that read its outputs."""
    cfg = write_study(tmp_path_factory.mktemp("a") / "study.yaml", tiny)
    r = harness("study", "--config", cfg, "--jobs", "2", timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr
    return cfg, Path(yaml.safe_load(cfg.read_text())["out"])


@pytest.mark.slow
def test_rows_report_and_plots(finished):
    _, out = finished
    t = pq.read_table(out / "study.parquet").to_pylist()
    final = [r for r in t if r["arm"] != "base"]
    assert sorted((r["arm"], r["seed"], r["budget"]) for r in final) == sorted(
        (a, s, b) for a in ("all", "top") for s in (0, 1) for b in (8, 12)
    )
    assert all(r["step"] == 2 and r["problems"] == 6 and r["n"] == 2 and r["task"] == EVAL["tasks"][0] for r in final)
    assert {r["rho"] for r in final if r["arm"] == "top"} == {0.2} and {
        r["rho"] for r in final if r["arm"] == "all"
    } == {1.0}
    base = [r for r in t if r["arm"] == "base"]
    assert [(r["step"], r["budget"], r["seed"]) for r in base] == [(0, 8, None), (0, 12, None)]
    for r in t:  # avg@n is the mean of the per-problem accuracies stored beside it
        assert r["avg"] == pytest.approx(sum(c / n for c, n in zip(r["problem_correct"], r["problem_n"])) / 6)
    # four different trained checkpoints, four runs; the base once
    assert len({r["run_id"] for r in final}) == 4
    report = (out / "report.md").read_text()
    for line in ("| all | 2 |", "| top | 2 |", "| base | - |", "| top | synthetic | 8 |", "| top | synthetic | 12 |"):
        assert line in report, line
    assert "Unfinished" not in report
    # the one claim whose arms the study has is judged; the ones without their arms are left out
    assert "| top-20 % (top) >= all tokens (all) | synthetic | 8 |" in report and "(None)" not in report
    for png in ("accuracy_vs_step.png", "entropy_vs_step.png", "entropy_overlap.png"):
        assert (out / png).stat().st_size > 1000
    for cell in ("all-s0", "all-s1", "top-s0", "top-s1"):
        assert (out / "cells" / cell / "entropy" / "compare.md").is_file()


def test_claims_need_their_arms(tiny, tmp_path):
    from harness import study as S
    from harness.study.report import claims

    arms = [{"name": "all", "rho": 1.0}, {"name": "kl", "preset": "kl-cov"}]
    study = S.load(write_study(tmp_path / "study.yaml", tiny, arms=arms))
    assert claims(study, {}).startswith("None applies")


@pytest.mark.slow
def test_paired_statistics_equal_harness_compare(finished):
    import numpy as np

    from harness import metrics

    _, out = finished
    rows = pq.read_table(out / "study.parquet").to_pylist()
    final = {(r["arm"], r["seed"], r["budget"]): r for r in rows if r["arm"] != "base"}
    report = (out / "report.md").read_text()
    for seed in (0, 1):
        for b in (8, 12):
            r = harness(
                "compare",
                final[("top", seed, b)]["run_id"],
                final[("all", seed, b)]["run_id"],
                "--results",
                out / "results",
                "--format",
                "csv",
                "--no-plot",
                "--budget",
                b,
            )
            assert r.returncode == 0, r.stderr
            (diff,) = [x for x in csv.DictReader(io.StringIO(r.stdout)) if x["kind"] == "difference"]
            v, lo, hi = (100 * float(diff[k]) for k in ("value", "ci_lo", "ci_hi"))
            line = f"| top | {seed} | synthetic | {b} | {v:+.1f} | [{lo:+.1f}, {hi:+.1f}] | 6 | {diff['verdict']} |"
            assert line in report, line
    for b in (8, 12):  # pooled over seeds: per problem, the mean over seeds of (top - all), then compare's bootstrap

        def acc(arm):
            return np.mean(
                [
                    [c / n for c, n in zip(final[(arm, s, b)]["problem_correct"], final[(arm, s, b)]["problem_n"])]
                    for s in (0, 1)
                ],
                axis=0,
            )

        assert final[("top", 0, b)]["problem_ids"] == final[("all", 1, b)]["problem_ids"]
        d = acc("top") - acc("all")
        diff, lo, hi = metrics.paired_bootstrap(acc("top"), acc("all"))
        assert diff == pytest.approx(d.mean())
        assert f"| top | synthetic | {b} | {100 * diff:+.1f} | [{100 * lo:+.1f}, {100 * hi:+.1f}] | 2 | 6 |" in report


@pytest.mark.slow
def test_kill_9_then_rerun_gives_the_same_study(finished, tiny, tmp_path):
    cfg_a, out_a = finished
    cfg = write_study(tmp_path / "study.yaml", tiny)
    out = tmp_path / "study"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "study", "--config", str(cfg)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mid = out / "cells" / "all-s1" / "train" / "checkpoints" / "step_000001"  # the third cell, mid-training
    deadline = time.time() + 3600
    while not mid.is_dir() and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert p.poll() is None, "the study ended before the marker appeared"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not (out / "study.parquet").exists()
    assert not (out / "cells" / "all-s1" / "done" / "train.json").exists()
    r = harness("study", "--config", cfg, timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all-s0] train" not in r.stdout  # finished stages are skipped
    a, b = pq.read_table(out_a / "study.parquet"), pq.read_table(out / "study.parquet")
    # run ids hash the checkpoint folder, trainer_state.pt included, which records its own `out` path: they differ
    # between two study folders by design; every other column must be equal
    assert b.drop(["run_id"]).equals(a.drop(["run_id"]))
    board = pq.read_table(out / "results" / "leaderboard.parquet").to_pylist()
    keys = [(x["run_id"], x["task"], x["budget"]) for x in board]
    assert len(keys) == len(set(keys)) == 5 * 2  # base + 4 cells, 2 budgets each, nothing twice
    log = [json.loads(x) for x in (out / "cells" / "all-s1" / "train" / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log] == [1, 2]


def test_dry_run_prints_commands_and_runs_nothing(tiny, tmp_path, capsys):
    cfg = write_study(tmp_path / "study.yaml", tiny)
    assert main(["study", "--config", str(cfg), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# base" and lines[1].startswith(f"harness eval --ckpt {tiny} ")
    groups = [i for i, x in enumerate(lines) if x.startswith("# ")]
    assert [lines[i] for i in groups] == ["# base", "# all-s0", "# top-s0", "# all-s1", "# top-s1"]
    for i in groups[1:]:
        train, ev, ent = lines[i + 1 : i + 4]
        assert (
            train.startswith("harness train ") and ev.startswith("harness eval ") and ent.startswith("harness entropy ")
        )
        assert (
            "--seed=" + lines[i][-1] in train.split()
            and "--rho=" + ("0.2" if "top" in lines[i] else "1.0") in train.split()
        )
        assert "checkpoints/step_000002" in ev and "'--tasks'" not in ev
    assert len(lines) == 2 + 4 * 4
    assert not (tmp_path / "study").exists()


@pytest.mark.parametrize(
    "over, words",
    [
        ({"bogus": 1}, "bogus"),
        ({"arms": [{"rho": 0.2}]}, "needs a name"),
        ({"base": "/nonexistent/model"}, "base"),
        ({"eval": {**EVAL, "budgets": [256, 600]}}, "context"),
        ({"eval": {**EVAL, "nn": 3}}, "nn"),
        ({"arms": [{"name": "x", "rho": 1.5}]}, "rho"),
        ({"arms": [{"name": "x", "rho": 1.0, "no_such_key": 1}]}, "no_such_key"),
        ({"arms": [{"name": "x", "rho": 1.0, "seed": 3}]}, "seed"),
        ({"arms": [{"name": "x", "rho": 0.2}]}, "reference"),
        ({"eval": {**EVAL, "tasks": ["synthetic:difficulty=1,size=8,seed=0"]}}, "training data"),
        ({"keep_checkpoints": "no"}, "keep_checkpoints"),
    ],
)
def test_bad_config_is_one_line_exit_2(tiny, tmp_path, capsys, over, words):
    cfg = write_study(tmp_path / "study.yaml", tiny, **over)
    assert main(["study", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not (tmp_path / "study").exists()


@pytest.mark.slow
def test_keep_checkpoints_false_deletes_them_once_a_cell_is_done(tiny, tmp_path):
    cfg = write_study(tmp_path / "study.yaml", tiny, arms=[ARMS[0]], seeds=[0], keep_checkpoints=False)
    r = harness("study", "--config", cfg, timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr
    cell = tmp_path / "study" / "cells" / "all-s0"
    assert not (cell / "train" / "checkpoints").exists()
    assert json.loads((cell / "done" / "pruned.json").read_text())["bytes"] > 0
    rows = pq.read_table(tmp_path / "study" / "study.parquet").to_pylist()
    assert {(x["arm"], x["budget"]) for x in rows} == {(a, b) for a in ("base", "all") for b in EVAL["budgets"]}
    again = harness("study", "--config", cfg, timeout=3600)
    assert again.returncode == 0 and "done in" not in again.stdout, again.stdout  # nothing runs twice
    # a stage added later needs the deleted checkpoints: one clear line, exit 1, nothing retrained
    write_study(
        tmp_path / "study.yaml", tiny, arms=[ARMS[0]], seeds=[0], keep_checkpoints=False, eval={**EVAL, "every": 1}
    )
    late = harness("study", "--config", cfg, timeout=3600)
    assert late.returncode == 1 and "keep_checkpoints: false" in late.stdout, late.stdout + late.stderr
    assert not (cell / "train" / "checkpoints").exists()


# ----------------------------------------------------------------------------- prompt switches (issue 24)

SWITCHED = {
    "name": "quiet",
    "rho": 1.0,
    "system_prompt": "- Be brief.",
    "chat_template_kwargs": {"enable_thinking": False},
}


def _parsed(stage):
    """A stage's `harness` arguments as the command's own parser reads them."""
    from harness.cli import build_parser

    return build_parser().parse_args(stage.args)


def _train_config(stage):
    """What `harness train` builds from a stage's flags (its own parse and checks)."""
    from train.config import FIELDS, load_config

    args = _parsed(stage)
    return load_config(args.config, {k: getattr(args, k) for k in FIELDS}).check()


def _eval_switches(stage):
    """The prompt switches `harness eval` takes from a stage's flags."""
    from tasks.prompts import PromptSwitches

    args = _parsed(stage)
    return PromptSwitches.parse(args.system_prompt, args.chat_template_kwargs)


def test_an_arms_prompt_switches_reach_its_train_and_eval_commands(tiny, tmp_path):
    from harness import study as S

    study = S.load(write_study(tmp_path / "study.yaml", tiny, arms=[ARMS[0], SWITCHED], seeds=[0]))
    groups = dict(S.commands(study))
    base, plain, quiet = groups["base"][0], groups["all-s0"], groups["quiet-s0"]
    train, ev = quiet[0], quiet[1]
    assert "--system-prompt=- Be brief." in train.args
    assert '--chat-template-kwargs={"enable_thinking": false}' in train.args
    cfg = _train_config(train)
    assert (cfg.system_prompt, cfg.chat_template_kwargs) == ("- Be brief.", {"enable_thinking": False})
    switches = _eval_switches(ev)  # its checkpoints are evaluated with the prompt they were trained with
    assert (switches.system_prompt, switches.chat_template_kwargs) == ("- Be brief.", {"enable_thinking": False})
    for stage in (base, plain[0], plain[1]):  # the base and the other arm: none
        assert not any(a.startswith(("--system-prompt", "--chat-template-kwargs")) for a in stage.args), stage
    assert _eval_switches(base).default and _eval_switches(plain[1]).default
    assert _train_config(plain[0]).prompt_switches().default
    # the cell's identity: its own column values in study.parquet, as any other override
    from harness.study.table import _column_value, override_keys, write_parquet

    assert override_keys(study) == ["rho", "system_prompt", "chat_template_kwargs"]
    (c_plain, c_quiet) = study.cells
    values = {c.arm.name: [_column_value(S.resolved(c, k)) for k in override_keys(study)] for c in study.cells}
    assert values == {"all": [1.0, "", "{}"], "quiet": [1.0, "- Be brief.", '{"enable_thinking": false}']}
    rows = [
        {"arm": c.arm.name, "seed": 0, "step": 2, "checkpoint": "x", "run_id": c.arm.name, "task": "t", "budget": 8}
        | {"n": 2, "problems": 1, "avg": 0.5, "se": 0.0, "problem_ids": ["p"], "problem_n": [2], "problem_correct": [1]}
        | dict(zip(override_keys(study), values[c.arm.name]))
        for c in (c_plain, c_quiet)
    ]
    back = pq.read_table(write_parquet(study, rows, tmp_path / "study.parquet")).to_pylist()
    assert [r["chat_template_kwargs"] for r in back] == ["{}", '{"enable_thinking": false}']


def test_two_arms_that_differ_only_in_a_switch_are_two_cells(tiny, tmp_path):
    from harness import study as S

    arms = [{"name": "on", "rho": 1.0, "chat_template_kwargs": {"enable_thinking": True}}]
    arms.append({"name": "off", "rho": 1.0, "chat_template_kwargs": '{"enable_thinking": false}'})  # JSON text too
    study = S.load(write_study(tmp_path / "study.yaml", tiny, arms=arms, seeds=[0], reference="on"))
    on, off = (stages for _, stages in S.commands(study)[1:])
    assert [s.name for s in on] == [s.name for s in off] and on[0].args != off[0].args and on[1].args != off[1].args
    assert _train_config(on[0]).chat_template_kwargs == {"enable_thinking": True}
    assert _train_config(off[0]).chat_template_kwargs == {"enable_thinking": False}
    assert _eval_switches(off[1]).chat_template_kwargs == {"enable_thinking": False}


def _with_chat_template(tiny, folder: Path) -> Path:
    """The tiny model with a chat template that reads enable_thinking (its prompt ids change with the switch)."""
    import shutil

    ckpt = shutil.copytree(tiny, folder)
    cfg = json.loads((ckpt / "tokenizer_config.json").read_text())
    cfg["chat_template"] = (
        "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
        "{% if enable_thinking is defined and not enable_thinking %}0{% endif %}"
    )
    (ckpt / "tokenizer_config.json").write_text(json.dumps(cfg))
    return ckpt


def test_evals_switches_reach_every_evaluation_and_the_base_run_id(tiny, tmp_path):
    """`eval:`'s switches go to the base evaluation and to the cells that train without their own; the base run id
    the study predicts (harness.evaluate.plan, no command module) is the one `harness eval` gives its flags."""
    from harness import evaluate
    from harness import study as S
    from harness.commands.eval import check

    base = _with_chat_template(tiny, tmp_path / "chat")
    ev = {**EVAL, "system_prompt": "Answer.", "chat_template_kwargs": '{"enable_thinking": false}'}
    study = S.load(write_study(tmp_path / "study.yaml", base, arms=[ARMS[0], SWITCHED], seeds=[0], eval=ev))
    groups = dict(S.commands(study))
    for stage, (system, kwargs) in (
        (groups["base"][0], ("Answer.", {"enable_thinking": False})),
        (groups["all-s0"][1], ("Answer.", {"enable_thinking": False})),
        (groups["quiet-s0"][1], ("- Be brief.", {"enable_thinking": False})),  # the arm's own prompt wins
    ):
        switches = _eval_switches(stage)
        assert (switches.system_prompt, switches.chat_template_kwargs) == (system, kwargs), stage.name
    predicted = S.base_run_id(study)
    assert predicted == evaluate.plan(check(_parsed(groups["base"][0]))).run_id
    plain = S.load(write_study(tmp_path / "plain.yaml", base, arms=[ARMS[0]], seeds=[0]))
    assert S.base_run_id(plain) == evaluate.plan(check(_parsed(S.base_stage(plain)))).run_id != predicted


@pytest.mark.parametrize(
    "over, line",
    [
        (
            {"arms": [{"name": "x", "rho": 1.0, "chat_template_kwargs": "[1, 2]"}]},
            "arm x: chat_template_kwargs: bad value '[1, 2]'",
        ),
        ({"arms": [{"name": "x", "rho": 1.0, "system_prompt": [1]}]}, "arm x: system_prompt: bad value [1]"),
        (
            {"eval": {**EVAL, "chat_template_kwargs": "[1, 2]"}},
            "eval: chat template kwargs must be a JSON object with string keys (got [1, 2])",
        ),
        ({"eval": {**EVAL, "chat_template_kwargs": "{bad"}}, "eval: chat template kwargs are not JSON ("),
        ({"eval": {**EVAL, "chat_template_kwargs": {1: True}}}, "eval: chat template kwargs must be a JSON object"),
        ({"eval": {**EVAL, "system_prompt": 5}}, "eval: system prompt must be text (got int)"),
    ],
)
def test_a_bad_prompt_switch_is_one_line(tiny, tmp_path, capsys, over, line):
    cfg = write_study(tmp_path / "study.yaml", tiny, **over)
    assert main(["study", "--config", str(cfg), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness study: error: " + line), err
