"""The Lambda zips hold every project module their handler imports (the rest of runtime/ is not there), and
exactly the dependency versions their constraints files pin."""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path

import pytest

from runtime.packaging import ROOT, LambdaPackage, canonical_name
from runtime.reconciler.package import PACKAGE as RECONCILER
from runtime.replay.package import PACKAGE as REPLAYER
from runtime.session_writer.package import PACKAGE as SESSION_WRITER

FUNCTIONS = [REPLAYER, SESSION_WRITER, RECONCILER]
FUNCTION_IDS = ["replayer", "session-writer", "reconciler"]


def imported_project_modules(file: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("runtime"):
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names if alias.name.startswith("runtime"))
    return modules


@pytest.mark.parametrize("package", FUNCTIONS, ids=FUNCTION_IDS)
def test_every_project_import_of_a_packaged_module_is_packaged(package: LambdaPackage) -> None:
    packaged = {name for name, _ in package.sources()}
    assert f"{package.handler.rsplit('.', 1)[0].replace('.', '/')}.py" in packaged
    for name, file in package.sources():
        for module in imported_project_modules(file):
            path = module.replace(".", "/")
            assert f"{path}.py" in packaged or f"{path}/__init__.py" in packaged, f"{name} imports {module}"


def test_the_replayer_takes_its_dependencies_from_its_own_extra() -> None:
    requirements = REPLAYER.requirements()
    assert not any(r.startswith("boto3") for r in requirements), "the Lambda runtime's"
    assert any(r.startswith("aws-kinesis-agg") for r in requirements)
    assert (ROOT / "runtime" / "replay" / "handler.py").exists()


def _requirement_name(requirement: str) -> str:
    return canonical_name(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0])


@pytest.mark.parametrize("package", FUNCTIONS, ids=FUNCTION_IDS)
def test_every_dependency_of_a_function_is_pinned(package: LambdaPackage) -> None:
    """The zip installs with its constraints file: nothing the extra names floats with the index."""
    pinned = package.pinned()
    assert {_requirement_name(r) for r in package.requirements()} <= set(pinned)
    assert all(re.fullmatch(r"\d+(\.\d+)*\S*", version) for version in pinned.values())


@pytest.mark.built
@pytest.mark.parametrize("package", FUNCTIONS, ids=FUNCTION_IDS)
def test_the_built_zip_holds_exactly_the_pinned_versions(package: LambdaPackage) -> None:
    installed = {}
    with zipfile.ZipFile(package.default_output) as archive:
        for name in archive.namelist():
            if name.endswith(".dist-info/METADATA"):
                metadata = archive.read(name).decode()
                fields = dict(re.findall(r"^(Name|Version): (\S+)$", metadata, flags=re.MULTILINE))
                installed[canonical_name(fields["Name"])] = fields["Version"]
    assert installed == package.pinned()
