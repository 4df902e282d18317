"""Issue 27: `harness study --executor ray`, every stage a Ray job, against a real local Ray head.

The head is started by the module fixture (`ray start --head --block --num-cpus 2` in a temp dir, on loopback
only) inside its own mount namespace, where one folder (`hidden`) is covered by an empty tmpfs: a study there
is a path only the driver has, as a folder on a login node's local disk is to a cluster's workers. The head and
everything it started are stopped at the end. Real processes throughout: the driver is killed with SIGKILL.
"""

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from harness.cli import main
from tests.proc_tree import descendants, survivors, wait_until
from tests.test_study import ARMS, REPO, harness, tiny, write_study  # noqa: F401 (tiny: the module-scoped model)

RESOURCES = {"train": {"num_cpus": 1}, "eval": {"num_cpus": 1}, "entropy": {"num_cpus": 1}}
HIDE_RAY = "import sys; sys.modules['ray'] = None; from harness.cli import main; sys.exit(main(sys.argv[1:]))"
STAGES = ["train", "eval-step_000002", "entropy"]


def small(path: Path, tiny_model, **over) -> Path:
    """2 arms x 1 seed x 2 steps (tests/test_study.py's tiny study, one seed), resources for Ray's jobs."""
    return write_study(path, tiny_model, **{"seeds": [0], "resources": RESOURCES, **over})


def without_ray(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", HIDE_RAY, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)


# ----------------------------------------------------------------------------- no cluster needed


def test_without_ray_is_one_line(tiny, tmp_path):  # noqa: F811
    cfg = small(tmp_path / "study.yaml", tiny)
    r = without_ray("study", "--config", cfg, "--executor", "ray", "--ray-address", "http://127.0.0.1:9")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("harness study: error: --executor ray needs Ray (")
    assert r.stderr.endswith("pip install 'rlvr-harness[ray]'\n")
    assert not (tmp_path / "study").exists()


def test_dry_run_prints_the_job_submissions(tiny, tmp_path, capsys):  # noqa: F811
    resources = {"train": {"num_gpus": 8, "num_cpus": 16}, "eval": {"num_gpus": 1}}
    cfg = small(tmp_path / "study.yaml", tiny, resources=resources)
    assert main(["study", "--config", str(cfg), "--dry-run"]) == 0
    local = capsys.readouterr().out.splitlines()
    r = without_ray("study", "--config", cfg, "--dry-run", "--executor", "ray", "--ray-address", "http://head:8265")
    assert r.returncode == 0, r.stderr  # printing the submissions needs no Ray
    lines = r.stdout.splitlines()
    assert [x for x in lines if x.startswith("#")] == [x for x in local if x.startswith("#")]
    out = tmp_path / "study"
    for job, command in zip(lines, local):
        if job.startswith("#"):
            continue
        words = shlex.split(job)
        sep = words.index("--")
        head, entry = words[:sep], words[sep + 1 :]
        inner = entry.index("--")
        # the job runs exactly the local command, through the stage wrapper, in this working directory
        assert ["harness", *entry[inner + 1 :]] == shlex.split(command)
        stage = entry[entry.index("--done") + 1]
        assert entry[:6] == ["python3", "-m", "harness.study.ray", "stage", "--cwd", str(REPO)]
        kind = entry[inner + 1]
        asks = {"train": ["--entrypoint-num-gpus=8", "--entrypoint-num-cpus=16"], "eval": ["--entrypoint-num-gpus=1"]}
        assert head == ["ray", "job", "submit", "--no-wait", "--address", "http://head:8265", *asks.get(kind, [])]
        assert Path(stage).name.split(".")[0] in ("base-eval", "train", "eval-step_000002", "entropy")
    assert not out.exists()


@pytest.mark.parametrize(
    "resources, words",
    [
        ({"trian": {"num_gpus": 1}}, "resources: unknown key(s): trian"),
        ({"train": {"gpus": 1}}, "resources: train: unknown key(s): gpus"),
        ({"eval": {"num_gpus": -1}}, "resources: eval: num_gpus: a non-negative number, got -1"),
        ({"eval": {"memory": 1.5}}, "resources: eval: memory: a non-negative integer (bytes), got 1.5"),
        ({"entropy": {"num_cpus": True}}, "resources: entropy: num_cpus"),
        ([1], "resources: expected a mapping"),
    ],
)
def test_bad_resources_are_one_line(tiny, tmp_path, capsys, resources, words):  # noqa: F811
    cfg = small(tmp_path / "study.yaml", tiny, resources=resources)
    assert main(["study", "--config", str(cfg), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_ray_address_needs_the_ray_executor(tiny, tmp_path, capsys):  # noqa: F811
    cfg = small(tmp_path / "study.yaml", tiny)
    assert main(["study", "--config", str(cfg), "--ray-address", "http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err == "harness study: error: --ray-address needs --executor ray\n"
    assert not (tmp_path / "study").exists()


def test_ray_stays_unimported_until_a_ray_study_runs():
    probe = "import sys, harness.study.ray, harness.commands.study; print('ray' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.stdout.strip() == "False", r.stdout + r.stderr


# ----------------------------------------------------------------------------- a real Ray head


@dataclass
class Head:
    url: str
    hidden: Path  # empty for the head and its workers: a folder only the driver has
    client: object


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """The head and everything under it (raylet, workers, job processes), at once: its state goes with its temp
    dir, nothing needs a graceful end."""
    pids = descendants(proc.pid) | {proc.pid}
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)
    assert not survivors(pids)


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    from ray.job_submission import JobSubmissionClient

    hidden = tmp_path_factory.mktemp("hidden")
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must stay under 108 bytes
    gcs, dash, client_port, agent = (_free_port() for _ in range(4))
    start = [
        "ray", "start", "--head", "--block", "--num-cpus", "2", "--temp-dir", str(temp / "t"), "--port", str(gcs),
        "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dash), "--ray-client-server-port", str(client_port),
        "--dashboard-agent-listen-port", str(agent), "--include-dashboard", "true", "--disable-usage-stats",
        "--object-store-memory", str(200 * 2**20),
    ]  # fmt: skip
    script = f"mount -t tmpfs tmpfs {shlex.quote(str(hidden))} && exec {shlex.join(start)}"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",  # as tests/test_study.py's local studies run
        "PYTHONPATH": str(REPO),
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # the node's address is 127.0.0.1: all traffic stays on loopback
    }
    log = (temp / "head.log").open("w")
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{dash}"

    def up() -> bool:
        if proc.poll() is not None:
            return True
        try:
            JobSubmissionClient(url).list_jobs()
            return True
        except Exception:
            return False

    try:
        assert wait_until(up, 300, poll=0.5) and proc.poll() is None, (temp / "head.log").read_text()[-4000:]
        yield Head(url, hidden, JobSubmissionClient(url))
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def jobs_of(head: Head, out: Path) -> list:
    """The stage jobs the cluster ran for the study in `out` (the visibility check's job left out)."""
    out = str(out.resolve())
    return [
        j
        for j in head.client.list_jobs()
        if (j.metadata or {}).get("harness_study") == out and j.metadata["stage"] != "check"
    ]


def expected_stages(arms=ARMS, stages=STAGES) -> list[tuple[str, str]]:
    return sorted([("base", "base-eval")] + [(f"{a['name']}-s0", s) for a in arms for s in stages])


@pytest.fixture(scope="module")
def local_study(tiny, tmp_path_factory):  # noqa: F811
    """The reference: the same tiny study, run here with --executor local."""
    cfg = small(tmp_path_factory.mktemp("local") / "study.yaml", tiny)
    r = harness("study", "--config", cfg, "--executor", "local", "--jobs", "2", "--no-plot", timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    return Path(yaml.safe_load(cfg.read_text())["out"])


def same_study(a: Path, b: Path, arms=ARMS, stages=STAGES) -> None:
    """b's study.parquet equals a's rows of base and `arms` but for run ids (they hash checkpoints that record their
    own folder); b has the markers of exactly those stages, as a has."""
    ta, tb = pq.read_table(a / "study.parquet"), pq.read_table(b / "study.parquet")
    ta = ta.filter(pc.is_in(ta["arm"], pa.array(["base"] + [x["name"] for x in arms])))
    assert tb.num_rows == ta.num_rows == 2 * (1 + len(arms))  # 2 budgets each
    assert tb.drop(["run_id"]).equals(ta.drop(["run_id"]))
    markers = sorted(
        f"cells/{c}/done/{s}.json" if c != "base" else "done/base-eval.json" for c, s in expected_stages(arms, stages)
    )
    for out in (a, b):
        found = sorted(str(p.relative_to(out)) for p in out.glob("**/done/*.json"))
        assert set(markers) <= set(found) and (out == a or found == markers), found


@pytest.mark.slow
def test_ray_study_equals_the_local_one(ray_head, local_study, tiny, tmp_path):  # noqa: F811
    cfg = small(tmp_path / "study.yaml", tiny)
    r = harness(
        "study", "--config", cfg, "--executor", "ray", "--ray-address", ray_head.url, "--jobs", "2", "--no-plot",
        timeout=1800,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    out = tmp_path / "study"
    same_study(local_study, out)
    jobs = jobs_of(ray_head, out)
    assert sorted((j.metadata["cell"], j.metadata["stage"]) for j in jobs) == expected_stages()
    assert {j.status.value for j in jobs} == {"SUCCEEDED"}
    assert r.stdout.count("(Ray job harness-study-") == len(expected_stages())
    assert not list(out.glob("**/jobs/*.json")) and not list(out.glob(".ray-check*"))
    # finished stages are never resubmitted
    again = harness("study", "--config", cfg, "--executor", "ray", "--ray-address", ray_head.url, "--no-plot")
    assert again.returncode == 0 and "Ray job" not in again.stdout, again.stdout + again.stderr
    assert len(jobs_of(ray_head, out)) == len(jobs)


def _harness_train(out: Path) -> int | None:
    """The pid of the `harness train --out=OUT` process (the command a train job runs), if it is running."""
    for d in Path("/proc").glob("[0-9]*"):
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args[1:4] == [b"-m", b"harness.cli", b"train"] and f"--out={out}".encode() in args:
            return int(d.name)
    return None


@pytest.mark.slow
def test_kill_9_of_the_driver_then_a_rerun(ray_head, local_study, tiny, tmp_path):  # noqa: F811
    cfg = small(tmp_path / "study.yaml", tiny, arms=ARMS[:1], entropy=False)  # the local study's first arm, quicker
    out = tmp_path / "study"
    cell = out / "cells" / "all-s0"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "harness.cli", "study", "--config", str(cfg), "--executor", "ray"]
    cmd += ["--ray-address", ray_head.url, "--no-plot"]
    first_out, rerun_out = tmp_path / "first.out", tmp_path / "rerun.out"
    with first_out.open("w") as f:
        first = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
    train = None

    def started() -> bool:
        nonlocal train
        train = _harness_train(cell / "train")
        return train is not None or first.poll() is not None

    assert wait_until(started, 900) and first.poll() is None, first_out.read_text()
    os.kill(train, signal.SIGSTOP)  # the cell's job stays running until the test lets it go on
    try:
        record = json.loads((cell / "jobs" / "train.json").read_text())["submission_id"]
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert ray_head.client.get_job_status(record).value == "RUNNING"  # the job outlived its driver
        # the local executor does not start a stage that a Ray job may still be writing
        local = harness("study", "--config", cfg, "--no-plot", timeout=600)
        assert local.returncode == 2 and local.stderr.count("\n") == 1, local.stdout + local.stderr
        assert f"all-s0 train: submitted as Ray job {record}" in local.stderr
        with rerun_out.open("w") as f:
            rerun = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
        waiting = f"[all-s0] train: waiting for Ray job {record}, submitted by an earlier run"
        assert wait_until(lambda: waiting in rerun_out.read_text() or rerun.poll() is not None, 600)
        assert rerun.poll() is None, rerun_out.read_text()
    finally:
        os.kill(train, signal.SIGCONT)
    assert rerun.wait(timeout=1800) == 0, rerun_out.read_text()
    text = rerun_out.read_text()
    assert "base-eval" not in text and "train: done in" in text  # the base was done: skipped, not resubmitted
    jobs = jobs_of(ray_head, out)
    # every stage ran as exactly one job, the killed driver's train job included: nothing twice, nothing lost
    assert sorted((j.metadata["cell"], j.metadata["stage"]) for j in jobs) == expected_stages(ARMS[:1], STAGES[:2])
    assert {j.status.value for j in jobs} == {"SUCCEEDED"}
    assert record in {j.submission_id for j in jobs}
    same_study(local_study, out, ARMS[:1], STAGES[:2])
    log = [json.loads(x) for x in (cell / "train" / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log] == [1, 2]
    board = pq.read_table(out / "results" / "leaderboard.parquet").to_pylist()
    keys = [(x["run_id"], x["task"], x["budget"]) for x in board]
    assert len(keys) == len(set(keys)) == 2 * 2
    assert not list(out.glob("**/jobs/*.json"))


@pytest.mark.slow
def test_a_folder_the_workers_cannot_see_is_one_line_before_any_job(ray_head, tiny):  # noqa: F811
    cfg = small(ray_head.hidden / "study.yaml", tiny)
    out = ray_head.hidden / "study"
    r = harness("study", "--config", cfg, "--executor", "ray", "--ray-address", ray_head.url, timeout=600)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"harness study: error: study {out}: the Ray workers cannot use it (node ")
    assert f"cannot read {out}/.ray-check-" in r.stderr and "(No such file or directory)); " in r.stderr
    assert r.stderr.endswith("must be on storage every node sees, at the same paths\n")
    assert not jobs_of(ray_head, out)  # no stage was submitted
    assert not list(out.iterdir())  # checked before any other work: no lock, log, marker or check file left


@pytest.mark.slow
def test_a_failed_job_is_one_line_naming_the_cell_the_stage_and_the_log(ray_head, tiny, tmp_path):  # noqa: F811
    arms = [{"name": "all", "rho": 1.0, "max_prompt_tokens": 1}]  # valid, but no training prompt fits: train fails
    cfg = small(tmp_path / "study.yaml", tiny, arms=arms)
    r = harness("study", "--config", cfg, "--executor", "ray", "--ray-address", ray_head.url, "--no-plot")
    assert r.returncode == 1, r.stdout + r.stderr
    out = tmp_path / "study"
    (line,) = [x for x in r.stdout.splitlines() if "failed (" in x]
    assert line.startswith("[all-s0] train: failed (Ray job harness-study-all-s0-train-"), line
    assert line.endswith(f"); see {out / 'cells' / 'all-s0' / 'logs' / 'train.log'}") and " FAILED: " in line, line
    assert "no prompt fits max_prompt_tokens=1" in (out / "cells" / "all-s0" / "logs" / "train.log").read_text()
    assert "harness study: 1 cell(s) failed: all-s0" in r.stdout
    jobs = sorted((j.metadata["stage"], j.status.value) for j in jobs_of(ray_head, out))
    assert jobs == [("base-eval", "SUCCEEDED"), ("train", "FAILED")]
    assert not list(out.glob("**/jobs/*.json"))  # the job ended: a rerun submits it again
