"""The Makefile's Debian installs work for root and for a user with sudo (a CI runner), nothing else.

`make -n` prints each recipe as it would run, with the user id the Makefile reads from
`id -u`: a stand-in `id` on PATH plays root or a runner's user, and a PATH without the
tools makes every install due, so the printed lines are what that user would run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.graph import ROOT

# Every target that installs from Debian, and the packages each installs.
INSTALLS = {
    "local-tools": {"influxdb", "npm"},
    "system-tools": {"influxdb", "npm", "graphviz", "shellcheck", "chromium"},
}


def _dry_run(target: str, uid: int, folder: Path) -> list[str]:
    """The install lines `make -n TARGET` prints for a user with this id and none of the tools."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    stand_in = bin_dir / "id"
    stand_in.write_text(f"#!/bin/sh\necho {uid}\n")
    stand_in.chmod(0o755)
    for tool in ("sh", "make"):  # only what make needs to print recipes
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    printed = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target], env=env, capture_output=True, text=True, check=True
    ).stdout
    return [line for line in printed.splitlines() if "apt-get install" in line]


def _packages(lines: list[str]) -> set[str]:
    return {match for line in lines for match in re.findall(r"apt-get install -y -qq (\S+);", line)}


@pytest.mark.parametrize("target", sorted(INSTALLS))
def test_a_user_who_is_not_root_installs_through_sudo(target: str, tmp_path: Path) -> None:
    lines = _dry_run(target, 1001, tmp_path)
    assert _packages(lines) == INSTALLS[target]
    assert all("sudo apt-get update -qq && sudo apt-get install" in line for line in lines), lines


@pytest.mark.parametrize("target", sorted(INSTALLS))
def test_root_installs_without_sudo(target: str, tmp_path: Path) -> None:
    lines = _dry_run(target, 0, tmp_path)
    assert _packages(lines) == INSTALLS[target]
    assert not any("sudo" in line for line in lines), lines
