"""The shape of the tree: one direction of dependency, the runtime without Pulumi, small modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.graph import CODE_FOLDERS, ROOT, python_files

RUNTIME_MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (ROOT / "runtime").rglob("*.py")
)
# The PyFlink job lives in the sessionizer's own environment (.venv-sessionizer), without
# Pulumi by construction; tests/flink imports it there.
PYFLINK_MODULES = {"runtime.sessionizer.job", "runtime.sessionizer.streams", "runtime.sessionizer.entrypoint"}
MAX_LINES = 400


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "runtime").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_runtime_module_imports_the_program(path: Path) -> None:
    """The program may use the runtime's contracts (names, configuration writers); never the other way."""
    assert not {m for m in _imported_modules(path) if m == "components" or m.startswith("components.")}


@pytest.mark.parametrize(
    "path", sorted((ROOT / "components" / "support").glob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_support_holds_leaf_helpers_only(path: Path) -> None:
    """components/support serves the stages: it imports nothing from the program but itself."""
    program = {m for m in _imported_modules(path) if m == "components" or m.startswith("components.")}
    assert {m for m in program if not m.startswith("components.support")} == set()


@pytest.mark.parametrize("path", sorted((ROOT / "components").glob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_stage_imports_operations(path: Path) -> None:
    """Operations watches the stages from above: a stage never reaches up to it."""
    assert not {m for m in _imported_modules(path) if m.startswith("components.operations")}


def package_imports(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (under TYPE_CHECKING too)."""
    dotted = ".".join(package.relative_to(ROOT).parts)
    modules = {path.stem: path for path in package.glob("*.py") if path.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = set()
        for module in _imported_modules(path):
            if module == dotted:  # `from runtime.local import view`
                imported |= {alias.name for node in ast.walk(ast.parse(path.read_text()))
                             if isinstance(node, ast.ImportFrom) and node.module == dotted
                             for alias in node.names}  # fmt: skip
            elif module.startswith(f"{dotted}."):
                imported.add(module.removeprefix(f"{dotted}.").split(".")[0])
        graph[name] = imported & set(modules)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle found by a depth-first walk, as the modules around it."""
    found: list[list[str]] = []
    state: dict[str, str] = {}  # module -> "open" while on the walk's path, "done" after

    def walk(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                found.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                walk(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    return found


def test_circles_are_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_local_run_has_no_import_circle() -> None:
    """Parts, the run composing them, actions and readers: dependencies point one way (docs/contributing.md)."""
    graph = package_imports(ROOT / "runtime" / "local")
    assert circles(graph) == []
    readers_and_actions = {"view", "verify", "chaos", "replaying", "snapshot", "timeline"}
    assert {module for module in readers_and_actions if "pipeline" in graph[module]} == set()
    assert {module for module in ("parts", "processes", "snapshot") if graph[module] - {"relay"}} == set()


def test_every_runtime_module_imports_without_pulumi() -> None:
    modules = [m for m in RUNTIME_MODULES if m not in PYFLINK_MODULES and not m.endswith("__main__")]
    script = (
        "import importlib, sys\n"
        "sys.modules['pulumi'] = None  # import pulumi now raises ImportError\n"
        "sys.modules['pulumi_aws'] = None\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert not any(m.startswith('components') for m in sys.modules), 'the program came along'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert {"runtime.local.pipeline", "runtime.ops", "runtime.stack"} <= set(modules)


SOURCES = python_files(*CODE_FOLDERS, "tests")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES
