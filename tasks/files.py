"""Files written whole or not at all: the one atomic write of `harness` and `train` (stdlib only).

The policy, the same for every caller:

1. the content goes to a temporary file in the destination's own folder (the same filesystem, so the rename
   below is atomic), named `.NAME.XXXXXXXX.tmp`: hidden, and never matching what a reader of NAME globs for;
2. the file is flushed and fsynced, then made mode 0644 (what `open` gives under the usual umask; the
   temporary is created private);
3. `os.replace` puts it over NAME: a reader sees the old file or the new one, never a part;
4. the folder is fsynced, so that the rename itself survives a crash or a power loss.

Any failure before the rename (a full disk, a quota, Ctrl-C, an error in the caller's writer) removes the
temporary file and the error goes on, with NAME as it was. Only kill -9 can leave a temporary behind; a
writer that owns a folder (holding its lock) removes them with `remove_temporaries`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MODE = 0o644
TEMP_SUFFIX = ".tmp"
TEMP_GLOB = ".*" + TEMP_SUFFIX  # what `atomic_path` names its temporaries in a folder


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` for the caller to write; when the block ends without an error it is fsynced
    and renamed over `path` (the module's policy). The folder must exist. Write through a file object of your
    own that an error closes (`with atomic_path(p) as tmp, open(tmp, "wb") as f: pq.write_table(table, f)`):
    pyarrow's writer opened from a path can stay open after an error, and an open file keeps the space of the
    removed temporary until it is collected, on the disk that just ran full."""
    dest = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=TEMP_SUFFIX, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        fsync_file(tmp)
        os.chmod(tmp, MODE)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replace `path` with `data`, whole or not at all."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Replace `path` with `text`, whole or not at all."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike, obj, *, indent: int | None = 1, sort_keys: bool = False) -> Path:
    """Replace `path` with `obj` as JSON (one trailing newline), whole or not at all."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys) + "\n")


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a closed file's data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename (or a new file, or a deletion) inside the folder `path` durable."""
    fsync_file(path)


def temporaries(folder: str | os.PathLike) -> list[Path]:
    """The temporary files an interrupted (kill -9) atomic write left directly in `folder`."""
    return sorted(p for p in Path(folder).glob(TEMP_GLOB) if p.is_file())


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete `temporaries(folder)` (call it only while no other writer can be inside the folder); returns them."""
    found = temporaries(folder)
    for p in found:
        p.unlink(missing_ok=True)
    return found
