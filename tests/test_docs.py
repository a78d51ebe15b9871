"""The repository stands alone: nothing in it names a path outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.graph import ROOT

# A relative path that climbs out of the file's folder, and the team's notes outside the repository.
_CLIMBING = re.compile(r"(?:\.\./)+[\w.\-/]*")
_OUTSIDE_NAMES = re.compile(r"shared/(?:reference|ARCHITECTURE|STYLE|hooks)")


def repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")  # fmt: skip
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def paths_outside(path: Path, text: str) -> list[str]:
    found = [m.group(0) for m in _OUTSIDE_NAMES.finditer(text)]
    for match in _CLIMBING.finditer(text):
        target = (path.parent / match.group(0)).resolve()
        if not target.is_relative_to(ROOT):
            found.append(match.group(0))
    return found


def test_no_file_names_a_path_outside_the_repository() -> None:
    offenders = {}
    for path in repository_files():
        text = _text(path)
        if text is not None and (found := paths_outside(path, text)):
            offenders[str(path.relative_to(ROOT))] = found
    assert not offenders


# Spelled in parts, so that this file does not name them itself.
@pytest.mark.parametrize("text", ["see " + "/".join(("..", "shared", "ARCHITECTURE.md")),
                                  "follows " + "/".join(("shared", "reference", "qoe-metrics.md")),
                                  "open " + "../" * 3 + "notes.txt"])  # fmt: skip
def test_a_path_outside_is_found(text: str) -> None:
    assert paths_outside(ROOT / "docs" / "index.md", text)


def test_a_path_inside_is_not() -> None:
    assert not paths_outside(ROOT / "docs" / "index.md", "see ../README.md and ../runtime/events.py")
