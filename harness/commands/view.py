"""`harness view [RESULTS]`: look at a results folder in a browser, or export it as one HTML file.

    harness view results                      # serves http://127.0.0.1:8765/ until Ctrl-C
    harness view results --port 0             # any free port (the URL is printed)
    harness view results --export report.html # one self-contained file (no server, no network)

The work is `harness.view`; a missing folder, a folder without runs, an unreadable shard, a port in use or an
--export path that cannot be written (a folder, an unwritable place, an empty name) is one line and exit 2,
and nothing is written.
"""

from __future__ import annotations

import argparse
import sys

from harness.errors import UsageError
from harness.outputs import writable_file

DEFAULT_PORT = 8765


def register(sub) -> None:
    from harness.view import EXPORT_CHARS, EXPORT_SAMPLES

    p = sub.add_parser("view", help="browse runs, samples, budget cuts, loops and token entropies (or export HTML)")
    p.add_argument("results", nargs="?", default="results", help="results folder (default results)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free one)"
    )
    p.add_argument(
        "--tokenizer",
        metavar="CKPT",
        help="checkpoint whose tokenizer places budget cuts in the text of runs whose own checkpoint is not "
        "on this machine (checked: it must decode each sample's ids to its text)",
    )
    p.add_argument("--export", metavar="FILE.html", help="write one self-contained HTML file instead of serving")
    p.add_argument(
        "--export-samples",
        type=int,
        default=EXPORT_SAMPLES,
        help=f"samples per problem and run whose text the export embeds (default {EXPORT_SAMPLES})",
    )
    p.add_argument(
        "--export-chars",
        type=int,
        default=EXPORT_CHARS,
        help=f"characters of each embedded sample text (default {EXPORT_CHARS})",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0..65535 (got {args.port})")
    if args.export_samples < 0 or args.export_chars < 1:
        raise UsageError("--export-samples must be >= 0 and --export-chars >= 1")
    if args.export is not None:
        writable_file(args.export, "--export")  # before any reading: an unwritable or folder path is one line
    from harness.view import data, page, server

    results = data.load(args.results, tokenizer=args.tokenizer)
    if args.export is not None:
        out = page.write_export(results, args.export, max_samples=args.export_samples, max_chars=args.export_chars)
        print(f"wrote {out}", file=sys.stderr)
        return 0
    httpd = server.make_server(results, args.port)
    print(f"serving {args.results} at {server.url_of(httpd)} (Ctrl-C to stop)", flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
    return 0
