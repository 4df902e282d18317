"""Is a safetensors file whole? Its header parses and every tensor lies inside the file: cheap (reads the header
only), run before a model is built so that a truncated or overwritten weight file is one clear line, not a loader
traceback. Stdlib only: `harness eval` checks checkpoints with it before importing torch.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path


def damage(path: Path) -> str | None:
    """Why a safetensors file is unreadable (None when its header parses and every tensor lies inside it)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return f"truncated ({size} bytes)"
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                return f"truncated (header of {n} bytes, file of {size})"
            header = json.loads(f.read(n))
    except OSError as exc:
        return exc.strerror or str(exc)
    except (ValueError, UnicodeDecodeError):
        return "header is not valid JSON"
    if not isinstance(header, dict):
        return "header is not a JSON object"
    try:
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        return "header has no valid tensor offsets"
    if 8 + n + end > size:
        return f"truncated (tensors need {8 + n + end} bytes, file has {size})"
    return None
