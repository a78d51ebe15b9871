"""Reproducible zip archives of deployables: same sources, same bytes, same content hash.

The Pulumi program keys uploads by content hash (the sessionizer's S3 key, the Lambda's
source code hash), so a zip must change only when what is in it changes.
"""

from __future__ import annotations

import argparse
import hashlib
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

    def build(self, output: Path) -> str:
        with tempfile.TemporaryDirectory() as scratch:
            dependencies = Path(scratch)
            subprocess.run(
                # --no-warn-conflicts: the target is a tree of its own, not the build's environment.
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                 "--no-warn-conflicts",
                 "--target", str(dependencies), "--platform", LAMBDA_PLATFORM, "--python-version",
                 LAMBDA_PYTHON_VERSION, "--implementation", "cp", "--only-binary=:all:", *self.requirements()],
                check=True,
            )  # fmt: skip
            entries = [e for e in tree(dependencies) if not e[0].endswith(_PIP_RECORDS)]
            return write_zip(output, [*entries, *self.sources()])

    def main(self, argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(description=f"Build the Lambda zip of {self.handler}")
        parser.add_argument("--output", type=Path, default=self.default_output)
        args = parser.parse_args(argv)
        digest = self.build(args.output)
        print(f"{args.output} sha256={digest} size={args.output.stat().st_size}")
