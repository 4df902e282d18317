"""Import discipline (docs/DESIGN.md, "Dependency rules"), checked in fresh interpreters.

`tasks` must stay importable by reward workers without torch or anything else of ours; `harness --help`
must not pay for torch, vLLM or transformers; library modules of `harness` and `train` do not import
each other (the CLI and the entropy measurement, `harness.entropy.measure`, are the allowed exceptions).
"""

import json
import pkgutil
import subprocess
import sys

import pytest

HEAVY = ("torch", "vllm", "transformers", "matplotlib")


def loaded_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def top_level(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


def test_tasks_imports_nothing_of_ours_and_no_torch():
    mods = top_level(loaded_after("import tasks, tasks.reward, tasks.loading, tasks.grading"))
    assert not mods & {"harness", "train", *HEAVY}


def test_harness_help_stays_light():
    mods = top_level(
        loaded_after(
            "from harness.cli import build_parser\n"
            "import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: build_parser().parse_args(['--help'])\n"
            "    except SystemExit: pass"
        )
    )
    assert not mods & set(HEAVY)  # the CLI may read train.config (dataclasses only), never torch


def _library_modules(package: str) -> list[str]:
    """Every module of the package except the CLI's (harness.cli, harness.commands.*) and the integrations'."""
    pkg = __import__(package)
    names = [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")]
    return [n for n in names if not n.startswith(("harness.cli", "harness.commands", "train.integrations"))]


@pytest.mark.parametrize("package,other", [("harness", "train"), ("train", "harness")])
def test_library_modules_do_not_import_each_other(package, other):
    mods = _library_modules(package)
    loaded = top_level(loaded_after("import importlib\n" + "\n".join(f"importlib.import_module({m!r})" for m in mods)))
    assert other not in loaded, f"a {package} library module imports {other}"
