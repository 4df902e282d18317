"""`harness study --executor ray`: every stage of a study (base evaluation, train, evaluations, entropy) as a Ray
job, submitted through Ray's Jobs API (`ray.job_submission.JobSubmissionClient`; the cluster needs its dashboard,
i.e. `ray[default]`, which the `ray` extra installs).

What a job runs: `python3 -m harness.study.ray stage --cwd CWD --done MARKER --log LOG -- <harness args>`, which
enters the driver's working directory (so relative paths in the study file mean what they mean to the driver)
and calls `harness.study.stages.run_stage`: the same `harness` command, the same log under the study folder, the same
`done/` marker written only after the command exited 0, as the local executor. So the markers alone say what is
done, and a study can start locally and finish on Ray or the reverse.

Shared storage: every node must see the study folder and the driver's working directory at the same paths. The
driver checks it before any other work: it writes OUT/.ray-check-<token> holding a random token, and one check job
runs a Ray task on every alive node that must read that token there (`check`); a node that cannot is one line,
exit 2.

Jobs outlive their driver. Before submitting, the driver records the job (its submission id) in
`<cell>/jobs/<stage>.json` (OUT/jobs/ for the base evaluation), and deletes the record once the job has ended. A
rerun after a killed driver finds the record: a job still pending or running is waited for, never submitted
twice; a job that succeeded has written its marker (the stage is skipped); one that failed or was stopped is
submitted again, as a rerun retries a failed stage locally. `--executor local` refuses to start while such a
record names a stage that is not done (the job may still be writing into the folder).

Resources: the study file's `resources: {train: {num_gpus: 8}, eval: {num_gpus: 1}, entropy: {...}}` become the
job's entrypoint_num_cpus / entrypoint_num_gpus / entrypoint_memory (Ray then sets CUDA_VISIBLE_DEVICES to the
GPUs it reserved); a stage kind without resources asks for nothing and sees every GPU of the node it lands on.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from harness.study import stages as S
from harness.study.spec import Study
from tasks.files import atomic_write_json

RESOURCE_FLAGS = {"num_cpus": "entrypoint_num_cpus", "num_gpus": "entrypoint_num_gpus", "memory": "entrypoint_memory"}
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
POLL_S = 1.0  # how often the driver asks the job server about a job in flight
CHECK_FILE = ".ray-check-{}"  # the visibility check's marker, one per driver (a token in its name and content)


# ----------------------------------------------------------------------------- what a stage's job is


def kind(stage: S.Stage) -> str:
    """The stage kind whose `resources:` the job asks for: train, eval (base and every step) or entropy."""
    return stage.args[0]  # the harness subcommand


def entrypoint_args(stage: S.Stage, cwd: Path) -> list[str]:
    return [
        "python3",
        "-m",
        "harness.study.ray",
        "stage",
        "--cwd",
        str(cwd),
        "--done",
        str(stage.done),
        "--log",
        str(stage.log),
        "--",
        *stage.args,
    ]


def entrypoint_resources(study: Study, stage: S.Stage) -> dict:
    """submit_job keyword arguments for the stage's resources."""
    return {RESOURCE_FLAGS[k]: v for k, v in study.resources.get(kind(stage), {}).items()}


def record_path(stage: S.Stage) -> Path:
    """<cell>/jobs/<stage>.json beside <cell>/done/<stage>.json (OUT/jobs/base-eval.json for the base)."""
    return stage.done.parent.parent / "jobs" / stage.done.name


def submit_command(study: Study, stage: S.Stage, cwd: Path, address: str | None) -> str:
    """The `ray job submit` line equivalent to what the driver submits (for --dry-run)."""
    cmd = ["ray", "job", "submit", "--no-wait"] + (["--address", address] if address else [])
    for key, value in entrypoint_resources(study, stage).items():
        cmd.append(f"--{key.replace('_', '-')}={value}")
    return shlex.join(cmd + ["--", *entrypoint_args(stage, cwd)])


def dry_run(study: Study, address: str | None, say=print) -> None:
    cwd = Path.cwd()
    for name, stages in S.commands(study):
        say(f"# {name}")
        for stage in stages:
            say(submit_command(study, stage, cwd, address))


# ----------------------------------------------------------------------------- records of submitted jobs


def pending_records(study: Study) -> list[tuple[Path, dict]]:
    """Job records whose stage has no marker: jobs an earlier `--executor ray` driver did not see end."""
    found = []
    for rec in sorted([*study.out.glob("jobs/*.json"), *study.out.glob("cells/*/jobs/*.json")]):
        if not (rec.parent.parent / "done" / rec.name).is_file():
            found.append((rec, json.loads(rec.read_text())))
    return found


def refuse_pending(study: Study) -> None:
    """For `--executor local`: a stage that may still be running as a Ray job is not started here too."""
    pending = pending_records(study)
    if pending:
        rec, r = pending[0]
        cell = "base" if rec.parent.parent == study.out else rec.parent.parent.name
        raise UsageError(
            f"{cell} {rec.stem}: submitted as Ray job {r['submission_id']} by an earlier "
            f"--executor ray run that did not see it end ({len(pending)} such stage(s)); rerun with --executor ray "
            f"to wait for them, or stop the job (ray job stop {r['submission_id']}) and delete {rec}"
        )


def _forget(stage: S.Stage) -> None:
    record_path(stage).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- the driver


@dataclass
class Cluster:
    client: object  # ray.job_submission.JobSubmissionClient
    address: str  # as the user gave it (--ray-address, RAY_API_SERVER_ADDRESS, RAY_ADDRESS) or "auto"


def connect(address: str | None) -> Cluster:
    """The cluster's job server, or one line: Ray missing (the `ray` extra) or its job server unreachable."""
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--executor ray needs Ray ({why}): pip install 'rlvr-harness[ray]'") from None
    where = address or os.environ.get("RAY_API_SERVER_ADDRESS") or os.environ.get("RAY_ADDRESS") or "auto"
    try:
        client = JobSubmissionClient(address)
        client.list_jobs()
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError: Ray's own, one line of it
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(
            f"--ray-address {where}: cannot reach Ray's job server ({why}); give the dashboard address "
            "(http://HEAD:8265) of a cluster started with ray[default]"
        ) from None
    return Cluster(client, where)


def _status(cluster: Cluster, submission_id: str) -> str | None:
    """PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED; None: the cluster has no such job."""
    try:
        return str(cluster.client.get_job_status(submission_id).value)
    except RuntimeError as exc:
        if "404" in str(exc) or "does not exist" in str(exc):
            return None
        raise


def _wait(cluster: Cluster, submission_id: str) -> str:
    while (status := _status(cluster, submission_id)) not in TERMINAL:
        if status is None:
            return "LOST"
        time.sleep(POLL_S)
    return status


def _one_line(text: str | None) -> str:
    return next((x.strip() for x in (text or "").splitlines() if x.strip()), "")


def check_visible(cluster: Cluster, study: Study) -> None:
    """One check job: a Ray task on every alive node must read the token the driver wrote in the study folder.
    Before the study lock and any other work: the marker's name is this driver's own."""
    cwd = Path.cwd()
    token = uuid.uuid4().hex
    try:
        (cwd / study.out).mkdir(parents=True, exist_ok=True)
        marker = (cwd / study.out / CHECK_FILE.format(token[:12])).resolve()
        atomic_write_json(marker, {"token": token})
    except OSError as exc:
        raise UsageError(f"study {study.out}: cannot write there ({exc.strerror or exc})") from None
    try:
        args = ["python3", "-m", "harness.study.ray", "check", "--cwd", str(cwd), "--marker", str(marker)]
        sid = cluster.client.submit_job(
            entrypoint=shlex.join(args + ["--token", token]),
            submission_id=f"harness-study-check-{token[:12]}",
            metadata={"harness_study": str(marker.parent), "stage": "check"},
        )
        status = _wait(cluster, sid)
        if status == "SUCCEEDED":
            return
        lines = [x for x in cluster.client.get_job_logs(sid).splitlines() if x.strip()]
        why = lines[-1].strip() if lines else f"check job {sid} {status}"
    finally:
        marker.unlink(missing_ok=True)
    raise UsageError(
        f"study {study.out}: the Ray workers cannot use it ({why}); the study folder and the working directory "
        "must be on storage every node sees, at the same paths"
    )


def submit(cluster: Cluster, study: Study, stage: S.Stage, cwd: Path) -> dict:
    """Record the job, then submit it (a driver killed in between leaves a record the cluster does not know)."""
    cell = stage.done.parent.parent.name if stage.name != "base-eval" else "base"
    record = {
        "submission_id": f"harness-study-{cell}-{stage.name}-{uuid.uuid4().hex[:8]}",
        "address": cluster.address,
        "entrypoint": shlex.join(entrypoint_args(stage, cwd)),
        "log_bytes": stage.log.stat().st_size if stage.log.is_file() else 0,
        "submitted": time.time(),
    }
    record_path(stage).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(record_path(stage), record)
    cluster.client.submit_job(
        entrypoint=record["entrypoint"],
        submission_id=record["submission_id"],
        metadata={"harness_study": str((cwd / study.out).resolve()), "cell": cell, "stage": stage.name},
        **entrypoint_resources(study, stage),
    )
    return record


def _adopt(cluster: Cluster, stage: S.Stage, say) -> dict | None:
    """An earlier driver's job for this stage that is still pending or running, else None (record dropped)."""
    path = record_path(stage)
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    status = _status(cluster, record["submission_id"])
    if status in ("PENDING", "RUNNING"):
        say(f"{stage.name}: waiting for Ray job {record['submission_id']}, submitted by an earlier run")
        return record
    if status is None:
        say(
            f"{stage.name}: Ray job {record['submission_id']} (recorded by an earlier run) is unknown to the cluster "
            f"at {cluster.address}; submitting again"
        )
    _forget(stage)
    return None


def run_stage(cluster: Cluster, study: Study, stage: S.Stage, say=print) -> bool:
    """The Ray twin of harness.study.stages.run_stage: True when the stage's marker exists once its job has ended."""
    if stage.done.is_file():
        _forget(stage)
        return True
    try:
        record = _adopt(cluster, stage, say) or submit(cluster, study, stage, Path.cwd())
        sid = record["submission_id"]
        status = _wait(cluster, sid)
        info = cluster.client.get_job_info(sid) if status != "LOST" else None
    except Exception as exc:  # the job server failed or went away: a submitted job goes on, its record stays
        why = _one_line(str(exc)) or type(exc).__name__
        say(f"{stage.name}: Ray's job server at {cluster.address} failed ({why}); rerun to wait for or resubmit it")
        return False
    _forget(stage)
    if stage.done.is_file():
        say(f"{stage.name}: done in {json.loads(stage.done.read_text())['seconds']:.0f} s (Ray job {sid})")
        return True
    grew = stage.log.is_file() and stage.log.stat().st_size > record["log_bytes"]
    where = stage.log if grew else f"ray job logs {sid}"  # the job died before its stage wrote a line
    message = _one_line(info.message) if info else "the cluster lost it"
    if status == "SUCCEEDED":
        message = f"but no marker {stage.done} here: is the study folder shared with the driver?"
    say(f"{stage.name}: failed (Ray job {sid} {status}{': ' + message if message else ''}); see {where}")
    return False


def run(study: Study, cluster: Cluster, jobs: int = 1, say=print) -> list[str]:
    """harness.study.stages.run with every stage a Ray job, at most `jobs` in flight."""
    return S.run(study, jobs=jobs, say=say, runner=lambda stage, s: run_stage(cluster, study, stage, s))


# ----------------------------------------------------------------------------- inside the jobs


def _probe(cwd: str, marker: str, token: str) -> str:
    """On one node: '' when the working directory and the driver's marker (with its token) are there."""
    import socket

    where = f"node {socket.gethostname()}"
    if not os.path.isdir(cwd):
        return f"{where}: no working directory {cwd}"
    try:
        seen = json.loads(Path(marker).read_text()).get("token")
    except (OSError, ValueError) as exc:
        return f"{where}: cannot read {marker} ({getattr(exc, 'strerror', None) or exc})"
    return "" if seen == token else f"{where}: {marker} is another study's (stale token)"


def _check(cwd: str, marker: str, token: str) -> int:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ray.init(log_to_driver=False)
    probe = ray.remote(num_cpus=0)(_probe)
    nodes = [n for n in ray.nodes() if n["Alive"]]
    refs = [
        probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(
            cwd, marker, token
        )
        for n in nodes
    ]
    bad = [x for x in ray.get(refs) if x]
    print(f"{len(nodes)} node(s) checked")
    if bad:
        print("; ".join(bad))
        return 3
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m harness.study.ray", description="a harness study job on Ray")
    sub = p.add_subparsers(dest="what", required=True)
    st = sub.add_parser(
        "stage", help="run one stage (harness.study.stages.run_stage) in the driver's working directory"
    )
    st.add_argument("--cwd", required=True)
    st.add_argument("--done", required=True)
    st.add_argument("--log", required=True)
    st.add_argument("args", nargs=argparse.REMAINDER)
    ck = sub.add_parser("check", help="every alive node reads the driver's marker")
    ck.add_argument("--cwd", required=True)
    ck.add_argument("--marker", required=True)
    ck.add_argument("--token", required=True)
    a = p.parse_args(argv)
    if a.what == "check":
        return _check(a.cwd, a.marker, a.token)
    try:
        os.chdir(a.cwd)
    except OSError as exc:
        print(f"no working directory {a.cwd} on this node ({exc.strerror})")
        return 2
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    stage = S.Stage(Path(a.done).stem, args, Path(a.done), Path(a.log))
    return 0 if S.run_stage(stage) else 1


if __name__ == "__main__":
    sys.exit(main())
