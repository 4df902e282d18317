"""`harness eval` against damaged files and repeated requests: real runs of the
hf backend on tiny_bpe's model, real Parquet shards damaged on disk."""

from __future__ import annotations

import json
import os

import pytest

from harness import comparison, leaderboard, store
from harness.cli import main
from tests.test_eval import rows, tiny_ckpt  # noqa: F401 (tiny_ckpt: the module-scoped checkpoint fixture)


def run_eval(ckpt, out, *extra, backend="hf") -> int:
    return main(
        [
            "eval",
            "--ckpt",
            str(ckpt),
            "--backend",
            backend,
            "--out",
            str(out),
            "--no-progress",
            "--tasks",
            "aime24",
            "--max-tokens",
            "16",
            "--temperature",
            "1.0",
            *map(str, extra),
        ]
    )


def test_smoke_test_does_not_replace_the_full_result(tiny_ckpt, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    assert run_eval(tiny_ckpt, out, "--n", 4, "--limit", 3) == 0
    assert run_eval(tiny_ckpt, out, "--n", 1, "--limit", 2) == 0  # the same run id: samples are shared
    lb = leaderboard.read(out / "leaderboard.parquet").to_pylist()
    assert sorted((r["n"], r["problems"]) for r in lb) == [(1, 2), (4, 3)]
    assert len({r["run_id"] for r in lb}) == 1
    chosen = comparison.select(lb, lb[0]["run_id"]).rows[("aime24", 16)]
    assert (chosen["n"], chosen["problems"]) == (4, 3)  # compare uses the larger request
    assert run_eval(tiny_ckpt, out, "--n", 4, "--limit", 3) == 0  # the same request again replaces its entry
    lb = leaderboard.read(out / "leaderboard.parquet").to_pylist()
    assert sorted((r["n"], r["problems"]) for r in lb) == [(1, 2), (4, 3)]


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_damaged_shard_is_set_aside_and_regenerated(tiny_ckpt, tmp_path, capsys, damage):  # noqa: F811
    out, clean = tmp_path / "out", tmp_path / "clean"
    flags = ("--n", 2, "--limit", 3, "--flush-secs", 0, "--no-leaderboard")
    assert run_eval(tiny_ckpt, out, *flags) == 0
    assert run_eval(tiny_ckpt, clean, *flags) == 0
    run_dir, before = rows(out)
    shards = store.shard_paths(run_dir)
    assert len(shards) >= 2
    victim = shards[0]
    data = victim.read_bytes()
    victim.write_bytes(
        {
            "truncated": data[: len(data) // 2],
            "empty": b"",
            "garbage": data[:4] + os.urandom(len(data) - 8) + data[-4:],
        }[damage]
    )
    lost = len(data)
    capsys.readouterr()
    # eval sets it aside, says so in one line, and generates its samples again.
    assert run_eval(tiny_ckpt, out, *flags) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "is damaged" in line]
    assert len(said) == 1 and victim.name in said[0] and "set aside" in said[0] and "Traceback" not in err
    assert (run_dir / ("damaged-" + victim.name)).stat().st_size == (
        0 if damage == "empty" else lost // 2 if damage == "truncated" else lost
    )
    _, after = rows(out)
    _, reference = rows(clean)
    key = lambda t: sorted(
        (r["problem_id"], r["sample_idx"], r["budget"], tuple(r["token_ids"] or ()))  # noqa: E731
        for r in t.to_pylist()
    )
    assert key(after) == key(reference) and after.num_rows == before.num_rows


def test_entropy_sets_a_damaged_shard_aside(tiny_ckpt, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "out"
    assert run_eval(tiny_ckpt, out, "--n", 2, "--limit", 3, "--flush-secs", 0, "--no-leaderboard") == 0
    run_dir, _ = rows(out)
    victim = store.shard_paths(run_dir)[0]
    victim.write_bytes(victim.read_bytes()[:100])
    capsys.readouterr()
    code = main(["entropy", "--run", str(run_dir), "--ckpt", str(tiny_ckpt), "--no-plot", "--out", str(tmp_path / "e")])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if "is damaged" in ln]
    assert victim.name in line and "set aside" in line
    assert (run_dir / ("damaged-" + victim.name)).is_file() and not victim.exists()


def test_damaged_weights_are_one_line_before_loading(tiny_ckpt, tmp_path, capsys):  # noqa: F811
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, ckpt)
    w = ckpt / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size - 1000])
    capsys.readouterr()
    assert run_eval(ckpt, tmp_path / "out", "--n", 1, "--limit", 1) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.safetensors is damaged (truncated" in err
    assert not (tmp_path / "out").exists()


def test_unloadable_weights_mark_the_manifest_failed(tiny_ckpt, tmp_path, capsys):  # noqa: F811
    """Damage the header check cannot see (a tensor of an unknown dtype): the loader fails, one line, exit 2,
    and the run's manifest says `failed` with the reason instead of `running`."""
    import shutil
    import struct

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, ckpt)
    raw = (ckpt / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header[next(k for k in header if k != "__metadata__")]["dtype"] = "Q7"
    blob = json.dumps(header).encode()
    (ckpt / "model.safetensors").write_bytes(struct.pack("<Q", len(blob)) + blob + raw[8 + n :])
    capsys.readouterr()
    assert run_eval(ckpt, tmp_path / "out", "--n", 1, "--limit", 1) == 2
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("harness eval: error:")]
    assert "the hf backend cannot load it" in line and "Traceback" not in err
    (run_dir,) = (tmp_path / "out" / "runs").iterdir()
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["status"] == "failed" and m["error"]
