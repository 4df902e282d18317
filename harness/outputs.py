"""Output paths checked up front: a folder or file that cannot be written is one line naming the path and the
reason (exit 2), before any model is loaded; nothing is created by the check."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from harness.errors import UsageError


def writable_dir(path: str | Path, flag: str) -> None:
    """UsageError unless `path` is a folder we can write in, or one that can be created there."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {path}: exists and is not a folder")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{flag} {path}: {probe} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=probe):  # unnamed on Linux: leaves nothing behind
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write in {probe} ({exc.strerror or exc})") from None


def writable_file(path: str | Path, flag: str) -> None:
    """UsageError unless a file can be written at `path` (its folder may be created)."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a folder, not a file")
    writable_dir(p.parent, flag)


def emit(text: str, out: str | None) -> None:
    """`text` to the file `out` (saying so on stderr), or to stdout."""
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
