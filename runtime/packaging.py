"""Reproducible zip archives of deployables: same sources, same bytes, same content hash.

The Pulumi program keys uploads by content hash (the sessionizer's S3 key, the Lambda's
source code hash), so a zip must change only when what is in it changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def write_zip(output: Path, entries: Iterable[tuple[str, Path]]) -> str:
    """Write (name in the zip, file) entries sorted, with fixed times and modes; returns the SHA-256."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, file in sorted(entries):
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, file.read_bytes())
    return hashlib.sha256(output.read_bytes()).hexdigest()


def tree(root: Path, prefix: str = "") -> list[tuple[str, Path]]:
    """Every file under root (no caches), named relative to it under prefix."""
    return [
        (f"{prefix}{path.relative_to(root).as_posix()}", path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]


# -- Lambda functions --------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_PYTHON_VERSION = "3.12"
LAMBDA_PLATFORM = "manylinux2014_aarch64"  # the functions run on arm64
PROVIDED_BY_LAMBDA = ("boto3",)


def canonical_name(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503): aws_lambda_powertools is aws-lambda-powertools."""
    return re.sub(r"[-_.]+", "-", name).lower()


# pip's own bookkeeping of where it installed is not part of a function.
_PIP_RECORDS = ("/RECORD", "/INSTALLER", "/REQUESTED")


@dataclass(frozen=True)
class LambdaPackage:
    """A Lambda zip: the handler's modules at the root as the package ``runtime``, and its
    dependencies beside them, installed for the function's platform (arm64, CPython 3.12),
    not this machine's. boto3 is the Lambda runtime's."""

    handler: str  # module.function, e.g. runtime.session_writer.handler.handler
    modules: tuple[str, ...]  # files, or folders whose *.py files go in (not package.py nor __main__.py)
    extra: str  # the pyproject.toml extra that lists the function's dependencies
    default_output: Path
    # Every dependency's exact version for the function's platform: the same zip from the same
    # commit, whatever the index publishes later. `--constraints` writes it anew.
    constraints: Path

    def sources(self, root: Path = ROOT) -> list[tuple[str, Path]]:
        sources: list[tuple[str, Path]] = []
        for module in self.modules:
            path = root / module
            files = sorted(path.glob("*.py")) if path.is_dir() else [path]
            sources += [(file.relative_to(root).as_posix(), file) for file in files
                        if file.name not in ("package.py", "__main__.py")]  # fmt: skip
        return sources

    def requirements(self, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
        extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"][self.extra]
        return [r for r in extra if not r.startswith(PROVIDED_BY_LAMBDA)]

    def _pip_install(self, target: Path, *options: str) -> None:
        subprocess.run(
            # --no-warn-conflicts: the target is a tree of its own, not the build's environment.
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
             "--no-warn-conflicts", "--target", str(target), "--platform", LAMBDA_PLATFORM, "--python-version",
             LAMBDA_PYTHON_VERSION, "--implementation", "cp", "--only-binary=:all:", *options, *self.requirements()],
            check=True,
        )  # fmt: skip

    def build(self, output: Path) -> str:
        if not self.constraints.is_file():
            raise SystemExit(f"{self.constraints.relative_to(ROOT)} is missing: run make lambda-constraints")
        with tempfile.TemporaryDirectory() as scratch:
            dependencies = Path(scratch)
            self._pip_install(dependencies, "--constraint", str(self.constraints))
            entries = [e for e in tree(dependencies) if not e[0].endswith(_PIP_RECORDS)]
            return write_zip(output, [*entries, *self.sources()])

    def resolve(self) -> list[str]:
        """`name==version` of every dependency pip chooses today for the function's platform."""
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "report.json"
            self._pip_install(Path(scratch) / "target", "--dry-run", "--ignore-installed", "--report", str(report))
            installs = json.loads(report.read_text())["install"]
        return sorted(f"{canonical_name(i['metadata']['name'])}=={i['metadata']['version']}" for i in installs)

    def write_constraints(self) -> None:
        header = (f"# {self.handler}'s dependencies, exactly, for {LAMBDA_PLATFORM} CPython {LAMBDA_PYTHON_VERSION}.\n"
                  "# Regenerate after changing its extra in pyproject.toml: make lambda-constraints\n")  # fmt: skip
        self.constraints.write_text(header + "".join(f"{line}\n" for line in self.resolve()))

    def pinned(self) -> dict[str, str]:
        """The constraints file as {canonical name: version}."""
        lines = [line.strip() for line in self.constraints.read_text().splitlines()]
        return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))

    def main(self, argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(description=f"Build the Lambda zip of {self.handler}")
        parser.add_argument("--output", type=Path, default=self.default_output)
        target = self.constraints.relative_to(ROOT)
        parser.add_argument("--constraints", action="store_true", help=f"resolve the dependencies anew into {target}")
        args = parser.parse_args(argv)
        if args.constraints:
            self.write_constraints()
            print(f"{self.constraints.relative_to(ROOT)}: {len(self.pinned())} pinned")
            return
        digest = self.build(args.output)
        print(f"{args.output} sha256={digest} size={args.output.stat().st_size}")
