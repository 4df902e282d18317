"""tasks.files: the one atomic write (temporary beside the file, fsync it, os.replace, fsync the folder)."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from tasks import files


def test_writes_replace_whole_files_with_mode_0644(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    os.chmod(target, 0o600)
    files.atomic_write_json(target, {"b": 1, "a": [2]}, indent=2, sort_keys=True)
    assert target.read_text() == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'
    assert stat.S_IMODE(target.stat().st_mode) == files.MODE == 0o644
    files.atomic_write_text(tmp_path / "t.txt", "ü\n")
    assert (tmp_path / "t.txt").read_bytes() == "ü\n".encode()
    files.atomic_write_bytes(tmp_path / "b.bin", b"\0\1")
    assert (tmp_path / "b.bin").read_bytes() == b"\0\1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin", "t.txt"]


def test_the_file_then_the_folder_are_fsynced_around_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        real_fsync(fd)

    def replace(a, b):
        events.append(("replace", os.path.dirname(a) == os.path.dirname(b)))
        real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    files.atomic_write_text(tmp_path / "x", "data")
    assert events == [("fsync", "file"), ("replace", True), ("fsync", "folder")]


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, exc):
    target = tmp_path / "board.parquet"
    target.write_bytes(b"old")
    with pytest.raises(type(exc)):
        with files.atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".board.parquet.") and tmp.name.endswith(".tmp")
            tmp.write_bytes(b"half")
            raise exc
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["board.parquet"]


def test_temporaries_left_by_a_kill_are_found_and_removed(tmp_path):
    (tmp_path / ".log.jsonl.abc123.tmp").write_text("half")
    (tmp_path / "log.jsonl").write_text("whole")
    (tmp_path / "notes.tmp").write_text("not ours: not hidden")
    assert [p.name for p in files.temporaries(tmp_path)] == [".log.jsonl.abc123.tmp"]
    assert [p.name for p in files.remove_temporaries(tmp_path)] == [".log.jsonl.abc123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl", "notes.tmp"]
