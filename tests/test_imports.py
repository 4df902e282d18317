"""Import discipline (docs/DESIGN.md, "Dependency rules"), checked two ways.

In fresh interpreters (`sys.modules` after the imports): `tasks` must stay importable by reward workers without
torch or anything else of ours; `harness --help` must not pay for torch, vLLM or transformers; importing the
library modules of `harness` loads no `train` and the reverse. That sees what a module loads when imported.

In the source (AST, every `import` and `from ... import` anywhere, inside functions too): `tasks` imports nothing
of ours; `train` never imports `harness`; library modules of `harness` never import `harness.commands` or
`harness.cli`, and import `train` only in the documented exceptions (HARNESS_IMPORTS_TRAIN, each in one function).
"""

import ast
import json
import pkgutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


# ----------------------------------------------------------------------------- every import statement (AST)
#
# The tests above see what importing a module loads; these read the source, so they also see an import inside a
# function, which runs only when the function does. docs/DESIGN.md, "Dependency rules".

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("tasks", "harness", "train")
CLI = ("harness.cli", "harness.commands")  # the top floor: it may import anything of ours; nothing below imports it
# Library modules of harness that import train, each only inside the one function named here (module, function,
# what it imports): the entropy measurement's kernel; a study file's training keys and data checked before it runs.
HARNESS_IMPORTS_TRAIN = {
    ("harness.entropy.measure", "token_entropies", "train.entropy"),
    ("harness.study.spec", "_cell", "train.config"),
    ("harness.study.spec", "_held_out", "train.config"),
    ("harness.study.spec", "_held_out", "train.data"),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    function: str  # where the statement is: "" at module level, else "f" or "Class.method" or "f.inner"
    target: str  # what it names: "harness.commands.eval.check" for `from harness.commands.eval import check`
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in(module: str, source: str, *, package: bool = False) -> list[Import]:
    """Every import of `module`'s source wherever it is (module level, functions, classes, branches), relative
    imports resolved; `importlib.import_module("x")` and `__import__("x")` with a literal name count too."""
    here = module.split(".") if package else module.split(".")[:-1]  # what `from . import x` is relative to
    found: list[Import] = []

    def add(target: str, where: str, node) -> None:
        found.append(Import(module, where, target, node.lineno))

    def visit(node, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{where}.{child.name}" if where else child.name
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, where, child)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = here[: len(here) - child.level + 1]
                    base = ".".join(up + ([base] if base else []))
                for alias in child.names:
                    add(f"{base}.{alias.name}" if alias.name != "*" else base, where, child)
            elif isinstance(child, ast.Call) and child.args and isinstance(child.args[0], ast.Constant):
                f = child.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in ("import_module", "__import__") and isinstance(child.args[0].value, str):
                    add(child.args[0].value, where, child)
            visit(child, inner)

    visit(ast.parse(source), "")
    return found


def _under(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def layer_violations(imports: list[Import]) -> list[str]:
    """The imports that break docs/DESIGN.md's layers, one line each."""
    bad = []
    for imp in imports:
        layer = imp.module.split(".")[0]
        library = not any(_under(imp.module, c) for c in CLI)
        where = f"{imp.module}:{imp.line} ({imp.function or 'module level'})"
        if layer == "tasks" and any(_under(imp.target, p) for p in ("harness", "train")):
            bad.append(f"{where}: tasks imports {imp.target}")
        if layer == "train" and _under(imp.target, "harness"):
            bad.append(f"{where}: train imports {imp.target}")
        if layer == "harness" and library:
            if any(_under(imp.target, c) for c in CLI):
                bad.append(f"{where}: a harness library module imports the CLI, {imp.target}")
            if _under(imp.target, "train") and not any(
                imp.module == m and imp.function == f and _under(imp.target, t) for m, f, t in HARNESS_IMPORTS_TRAIN
            ):
                bad.append(f"{where}: a harness library module imports {imp.target} (not a documented exception)")
    return bad


def all_imports() -> list[Import]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found += imports_in(module_name(path), path.read_text(), package=path.name == "__init__.py")
    return found


def test_no_import_anywhere_breaks_the_layers():
    bad = layer_violations(all_imports())
    assert not bad, "\n".join(bad)


def test_the_documented_exceptions_are_still_there():
    """Each exception names an import that exists, in the function named: a stale entry would hide nothing but
    would misstate the code (and docs/DESIGN.md says the same)."""
    imports = all_imports()
    missing = [
        (m, f, t)
        for m, f, t in sorted(HARNESS_IMPORTS_TRAIN)
        if not any(i.module == m and i.function == f and _under(i.target, t) for i in imports)
    ]
    assert not missing, f"HARNESS_IMPORTS_TRAIN names imports the code no longer has: {missing}"


BAD_MODULE = '''
"""A library module that borrows a command's check inside a function: the break the AST test exists for."""
import json


def run_id(args):
    from harness.commands.eval import check

    return check(args)


class Later:
    def method(self):
        import importlib

        return importlib.import_module("harness.cli")


def relative():
    from ..commands import study  # from harness.study.bad: harness.commands.study

    return study


def trains():
    from train.config import load_config  # not an exception here

    return load_config
'''


def test_the_checker_finds_a_function_level_import_of_a_command(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(BAD_MODULE)
    imports = imports_in("harness.study.bad", path.read_text())
    assert {(i.function, i.target) for i in imports} >= {
        ("run_id", "harness.commands.eval.check"),
        ("Later.method", "harness.cli"),
        ("relative", "harness.commands.study"),
        ("trains", "train.config.load_config"),
    }
    bad = layer_violations(imports)
    assert len(bad) == 4, bad
    assert bad[0] == (
        "harness.study.bad:7 (run_id): a harness library module imports the CLI, harness.commands.eval.check"
    )
    assert "harness.study.bad:16 (Later.method): a harness library module imports the CLI, harness.cli" in bad
    assert any(
        "(trains): a harness library module imports train.config.load_config (not a documented" in x for x in bad
    )
    # the same source as a command module (the top floor: all allowed), a tasks module and a train module
    assert layer_violations(imports_in("harness.commands.bad", BAD_MODULE)) == []
    assert [x.split(": ", 1)[1] for x in layer_violations(imports_in("tasks.bad", BAD_MODULE))] == [
        "tasks imports harness.commands.eval.check",
        "tasks imports harness.cli",
        "tasks imports train.config.load_config",  # `..commands` from tasks.bad is outside the packages
    ]
    assert [x.split(": ", 1)[1] for x in layer_violations(imports_in("train.bad", BAD_MODULE))] == [
        "train imports harness.commands.eval.check",
        "train imports harness.cli",
    ]


def test_the_study_package_has_no_import_cycle():
    """harness.study's modules import one another in one direction only (spec <- stages <- table <- report; ray)."""
    mods = {module_name(p) for p in (REPO / "harness" / "study").glob("*.py")} - {"harness.study"}
    graph = {m: set() for m in mods}
    for imp in all_imports():
        if imp.module in mods:
            graph[imp.module] |= {m for m in mods if m != imp.module and _under(imp.target, m)}

    def reaches(start: str, goal: str, seen: set) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    cycles = sorted(m for m in mods if reaches(m, m, set()))
    assert not cycles, f"import cycle through {', '.join(cycles)}: {graph}"
