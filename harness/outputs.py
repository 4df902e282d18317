"""Output paths checked up front: a folder or file that cannot be written is one line naming the path and the
reason (exit 2), before any model is loaded; nothing is created by the check."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.errors import UsageError
from tasks.files import atomic_path


def writable_dir(path: str | Path, flag: str, *, shown: str | Path | None = None) -> None:
    """UsageError unless `path` is a folder we can write in, or one that can be created there. `shown`: the
    path the message names (default `path`)."""
    shown = path if shown is None else shown
    if not str(path):
        raise UsageError(f"{flag} needs a folder (got an empty path)")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(
            f"{flag} {shown}: " + ("exists and is not a folder" if p == Path(shown) else f"{p} is not a folder")
        )
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{flag} {shown}: {probe} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=probe):  # unnamed on Linux: leaves nothing behind
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {shown}: cannot write in {probe} ({exc.strerror or exc})") from None


def writable_file(path: str | Path, flag: str, *, force: bool | None = None) -> None:
    """UsageError unless a file can be written at `path` (its folder may be created). `force`: None, an existing
    file is replaced; False, an existing file is refused (the command's --force replaces it); True, replaced."""
    if not str(path):
        raise UsageError(f"{flag} needs a file name (got an empty one)")
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a folder, not a file")
    if force is False and (p.exists() or p.is_symlink()):
        raise UsageError(f"{flag} {path}: exists (pass --force to replace it)")
    writable_dir(p.parent, flag, shown=path)


def write_atomic(path: str | Path, write: Callable[[Path], None], flag: str) -> Path:
    """`write(tmp)` fills a temporary file beside `path`, which is then renamed into place (`tasks.files.atomic_path`:
    fsynced, mode 0644). On any failure nothing is left: the temporary file and the folders made for it are removed,
    and an OSError is a UsageError naming `path`."""
    out = Path(path)
    made = []  # folders this call creates, deepest first
    folder = out.parent
    while not folder.exists():
        made.append(folder)
        folder = folder.parent
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:
            write(tmp)
    except BaseException as exc:
        for d in made:
            if d.is_dir() and not any(d.iterdir()):  # a folder something else wrote in meanwhile stays
                d.rmdir()
        if isinstance(exc, OSError):
            raise UsageError(f"{flag} {path}: cannot write ({exc.strerror or exc})") from None
        raise
    return out


def emit(text: str, out: str | None) -> None:
    """`text` to the file `out` (saying so on stderr), or to stdout."""
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
