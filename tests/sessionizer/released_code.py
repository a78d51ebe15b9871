"""The sessionizer as a released state version left it: its code from the repository's history, and
its connector jar (the current one when the connector has not changed since, else built from it)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from runtime.sessionizer.package import CONNECTOR_JAR
from runtime.sessionizer.state_layout import LAYOUTS_FILE, released
from tests.graph import ROOT

LAYOUTS = str(LAYOUTS_FILE.relative_to(ROOT))
CONNECTOR = "runtime/sessionizer/connector"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def last_commit_of(version: int) -> str:
    """The newest commit whose job wrote ``version``: the parent of the commit that released the next
    version, or HEAD while the next one is released only in the working tree."""
    if _git("rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("a shallow clone has no released versions' code: clone with history")
    following = min(v for v in released() if v > version)
    for commit in _git("log", "--reverse", "--format=%H", "--", LAYOUTS).split():
        if str(following) in json.loads(_git("show", f"{commit}:{LAYOUTS}"))["versions"]:
            return _git("rev-parse", f"{commit}^")
    return _git("rev-parse", "HEAD")


def released_job(version: int, into: Path) -> tuple[Path, Path]:
    """(the code's root, its connector jar) of the last commit of ``version``."""
    commit = last_commit_of(version)
    archive = subprocess.run(["git", "archive", "--format=tar", commit, "runtime"], cwd=ROOT, check=True,
                             capture_output=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    unchanged = subprocess.run(["git", "diff", "--quiet", commit, "--", CONNECTOR], cwd=ROOT).returncode == 0
    if unchanged:
        return into, CONNECTOR_JAR
    built = subprocess.run(["mvn", "-q", "-B", "-o", "package", "-f", str(into / CONNECTOR / "pom.xml")],
                           capture_output=True, text=True)  # fmt: skip
    assert built.returncode == 0, f"building version {version}'s connector ({commit}):\n{built.stdout}{built.stderr}"
    return into, into / CONNECTOR_JAR.relative_to(ROOT)
