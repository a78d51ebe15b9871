"""Build the session writer's Lambda zip: `python -m runtime.session_writer.package`.

Layout: the handler's code at the root as the package ``runtime`` (handler
``runtime.session_writer.handler.handler``) and its dependencies beside it, installed
for the function's platform (arm64, CPython 3.12), not this machine's. boto3 is the
Lambda runtime's. Reproducible: the same sources and dependency versions give the same
bytes, so the function's source code hash moves only with its content.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from runtime.packaging import tree, write_zip

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = ROOT / "build" / "session_writer" / "prism-session-writer.zip"
HANDLER = "runtime.session_writer.handler.handler"
PYTHON_VERSION = "3.12"
PLATFORM = "manylinux2014_aarch64"
HANDLER_MODULES = ("runtime/__init__.py", "runtime/events.py", "runtime/kpl.py", "runtime/text_settings.py")
PROVIDED_BY_LAMBDA = ("boto3",)


def handler_sources(root: Path = ROOT) -> list[tuple[str, Path]]:
    package = root / "runtime" / "session_writer"
    sources = [(module, root / module) for module in HANDLER_MODULES]
    sources += [(f"runtime/session_writer/{file.name}", file) for file in sorted(package.glob("*.py"))
                if file.name != "package.py"]  # fmt: skip
    return sources


def requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The session-writer extra, less what the Lambda runtime provides."""
    extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["session-writer"]
    return [r for r in extra if not r.startswith(PROVIDED_BY_LAMBDA)]


def install_dependencies(target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--target", str(target), "--platform", PLATFORM, "--python-version", PYTHON_VERSION,
         "--implementation", "cp", "--only-binary=:all:", *requirements()],
        check=True,
    )  # fmt: skip


def build(output: Path) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        dependencies = Path(scratch)
        install_dependencies(dependencies)
        # pip's own bookkeeping of where it installed is not part of the function.
        entries = [e for e in tree(dependencies) if not e[0].endswith(("/RECORD", "/INSTALLER", "/REQUESTED"))]
        return write_zip(output, [*entries, *handler_sources()])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    digest = build(args.output)
    print(f"{args.output} sha256={digest} size={args.output.stat().st_size}")


if __name__ == "__main__":
    main()
