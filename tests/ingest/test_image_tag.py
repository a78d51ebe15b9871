"""The ingest image's tag comes from its build inputs: what does not reach the image does not move it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from runtime.ingest.image import BUILD_INPUTS, DOCKERFILE, DOCKERIGNORE, TAG_PREFIX, build_files, source_tag
from tests.graph import ROOT


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The build inputs and the files beside them, as a fresh checkout has them."""
    skip = shutil.ignore_patterns("__pycache__", "target")
    shutil.copytree(ROOT / "runtime", tmp_path / "runtime", ignore=skip)
    for name in ("pyproject.toml", DOCKERIGNORE, "README.md"):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_inputs_are_what_the_dockerfile_copies_from_the_context() -> None:
    copies = [line.split()[1:-1] for line in (ROOT / DOCKERFILE).read_text().splitlines()
              if line.startswith("COPY ") and "--from=" not in line]  # fmt: skip
    assert {source for sources in copies for source in sources} == set(BUILD_INPUTS)


def test_the_tag_is_the_same_for_the_same_inputs(checkout: Path) -> None:
    tag = source_tag(checkout)
    assert re.fullmatch(rf"{TAG_PREFIX}[0-9a-f]{{20}}", tag)
    assert source_tag(checkout) == tag


@pytest.mark.parametrize(
    "outside",
    ["README.md", "docs/new-page.md", "tests/test_new.py", "runtime/ingest/__pycache__/app.cpython-311.pyc",
     "runtime/sessionizer/connector/target/prism-connector.jar"],
)  # fmt: skip
def test_what_the_build_context_leaves_out_does_not_move_the_tag(checkout: Path, outside: str) -> None:
    tag = source_tag(checkout)
    path = checkout / outside
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(path.read_bytes() + b"\n" if path.exists() else b"changed")
    assert source_tag(checkout) == tag
    assert Path(outside) not in build_files(checkout)


@pytest.mark.parametrize("inside", ["runtime/ingest/app.py", "pyproject.toml", "runtime/ingest/constraints.txt"])
def test_a_change_the_image_would_hold_moves_the_tag(checkout: Path, inside: str) -> None:
    tag = source_tag(checkout)
    (checkout / inside).write_text((checkout / inside).read_text() + "\n")
    assert source_tag(checkout) != tag


def test_the_dockerfile_itself_moves_the_tag(checkout: Path) -> None:
    tag = source_tag(checkout)
    dockerfile = checkout / DOCKERFILE
    dockerfile.write_text(dockerfile.read_text().replace("INGEST_PORT=8080", "INGEST_PORT=8081"))
    assert source_tag(checkout) != tag


def test_the_committed_stack_files_name_no_image_of_their_own() -> None:
    """Nothing a stack file says can point the task definition at another image than the source's."""
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        assert "imageTag" not in stack_file.read_text(), stack_file.name
