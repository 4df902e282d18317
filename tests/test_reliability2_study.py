"""`harness study` without matplotlib is one line before any work (`--no-plot`: the tables only); the study lock
lets one study at a time write a study folder. Real processes."""

import os
import signal
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from tasks import files
from tests.proc_tree import descendants, survivors, wait_until
from tests.test_study import REPO, harness, tiny, write_study  # noqa: F401 (tiny: the module-scoped model fixture)

HIDDEN = "import sys; sys.modules['matplotlib'] = None; from harness.cli import main; sys.exit(main(sys.argv[1:]))"


def _without_matplotlib(how: str, tmp_path, *args):
    """`harness ARGS` in a process where matplotlib is absent ("absent") or installed but broken ("broken")."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    if how == "absent":
        cmd = [sys.executable, "-c", HIDDEN, *map(str, args)]
    else:
        stub = tmp_path / "stub" / "matplotlib"
        stub.mkdir(parents=True)
        (stub / "__init__.py").write_text("raise ImportError('matplotlib is broken here')\n")
        env["PYTHONPATH"] = f"{stub.parent}{os.pathsep}{REPO}"
        cmd = [sys.executable, "-m", "harness.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)


@pytest.mark.parametrize("how", ["absent", "broken"])
@pytest.mark.parametrize("report", [False, True])
def test_no_matplotlib_is_one_line_before_any_work(tiny, tmp_path, how, report):  # noqa: F811
    cfg = write_study(tmp_path / "study.yaml", tiny)
    r = _without_matplotlib(how, tmp_path, "study", "--config", cfg, *(["--report"] if report else []))
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("harness study: error: the PNGs need matplotlib (")
    assert r.stderr.endswith("pip install 'rlvr-harness[plots]', or pass --no-plot\n")
    assert not (tmp_path / "study").exists()  # nothing ran, nothing was written


def test_no_plot_writes_the_tables(tiny, tmp_path):  # noqa: F811
    cfg = write_study(tmp_path / "study.yaml", tiny)
    r = _without_matplotlib("absent", tmp_path, "study", "--config", cfg, "--report", "--no-plot")
    assert r.returncode == 0, r.stdout + r.stderr
    out = tmp_path / "study"
    assert r.stdout.splitlines() == [f"wrote {out / 'study.parquet'}", f"wrote {out / 'report.md'}"]
    assert pq.read_table(out / "study.parquet").num_rows == 0  # nothing is done yet
    assert "Unfinished" in (out / "report.md").read_text()
    assert not list(out.glob("*.png")) and not files.temporaries(out)


def test_second_study_on_the_same_folder_is_refused(tiny, tmp_path):  # noqa: F811
    cfg = write_study(tmp_path / "study.yaml", tiny)
    out = tmp_path / "study"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "study", "--config", str(cfg)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:  # the base evaluation's log is opened once the lock is held
        assert wait_until(lambda: (out / "logs" / "base-eval.log").is_file() or first.poll() is not None, 300)
        assert first.poll() is None
        second = harness("study", "--config", cfg, timeout=600)
        report = harness("study", "--config", cfg, "--report", timeout=600)
        assert first.poll() is None, "the first study ended: the test proves nothing"
        children = descendants(first.pid)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    expected = (
        f"harness study: error: study {out}: another harness study (pid {first.pid}) is running there; "
        "wait for it to end\n"
    )
    for r in (second, report):
        assert r.returncode == 2 and r.stderr == expected, r.stdout + r.stderr
    assert not (out / "report.md").exists()  # the refused --report wrote nothing
    assert not survivors(children)  # the first study's stages died with it
    # kill -9 released the lock: the folder is usable again
    again = harness("study", "--config", cfg, "--report", "--no-plot", timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (out / "report.md").is_file()
