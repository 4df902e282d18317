"""docs/DESIGN.md's layout names every module of the three packages as the tree holds them, and nothing that is gone.

The tree is read when the test runs, so a module added (or removed, or moved) without its line in the layout
fails here. A module is a .py file under tasks/, harness/ or train/ (an `__init__.py` is named by its folder),
and a folder holding .py files. The layout is the code block under "## Layout": an entry line starts with a
name ending in `.py` or `/`, indented two spaces per folder level; the entry and the lines indented under it
may name more modules, which are read relative to the entry's folder (the entry itself when it is a folder).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("tasks", "harness", "train")
ENTRY = re.compile(r"[\w.]+(?:\.py|/)")
NAME = re.compile(r"(?<![\w./-])(\w+(?:/\w+)*(?:\.py|/))(?![\w.])")


def layout_block(text: str) -> list[str]:
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1].splitlines()[1:]


def named_in_layout(lines: list[str]) -> set[str]:
    """Every module path the layout names: `harness/backends/hf.py`, folders with a trailing `/`."""
    named: set[str] = set()
    stack: list[tuple[int, str]] = []  # (indent, folder path) of the open folder entries
    entry_indent, context = -1, ""
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        first, _, rest = line.strip().partition(" ")
        if (ENTRY.fullmatch(first) and indent <= entry_indent + 2) or indent == 0:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            parent = stack[-1][1] if stack else ""
            entry_indent = indent
            if ENTRY.fullmatch(first):
                path = parent + first
                named.add(path)
                if first.endswith("/"):
                    stack.append((indent, path))
                context = path if first.endswith("/") else parent
            else:
                context = ""
        else:
            rest = line
        for name in NAME.findall(rest):
            named.add(name if name.split("/")[0] in PACKAGES else context + name)
    return named


def modules_in_tree() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for f in (REPO / package).rglob("*.py"):
            rel = f.relative_to(REPO)
            if "__pycache__" in rel.parts:
                continue
            folders = rel.parts[:-1]
            found.update("/".join(folders[: i + 1]) + "/" for i in range(len(folders)))
            if f.name != "__init__.py":
                found.add(rel.as_posix())
    return found


def test_the_parser_reads_entries_nesting_and_prose():
    lines = [
        "harness/      evaluation",
        "  backends/     samplers: vllm_offline.py, hf.py",
        "  study.py      stage markers; study_report.py and",
        "                store.py (results/leaderboard.parquet, `harness study`)",
        "  view/         the browser",
        "    data.py     reads harness/store.py",
        "train/        training",
        "docs/         this file",
    ]
    assert named_in_layout(lines) == {
        "harness/",
        "harness/backends/",
        "harness/backends/vllm_offline.py",
        "harness/backends/hf.py",
        "harness/study.py",
        "harness/study_report.py",
        "harness/store.py",
        "harness/view/",
        "harness/view/data.py",
        "train/",
        "docs/",
    }


def test_every_module_of_the_three_packages_is_in_the_design_layout():
    named = named_in_layout(layout_block((REPO / "docs" / "DESIGN.md").read_text()))
    tree = modules_in_tree()
    missing = sorted(tree - named)
    assert not missing, f"docs/DESIGN.md's layout does not name: {', '.join(missing)}"
    gone = sorted(n for n in named if n.split("/")[0] in PACKAGES and not (REPO / n).exists())
    assert not gone, f"docs/DESIGN.md's layout names what the tree does not hold: {', '.join(gone)}"
