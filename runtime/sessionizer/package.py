"""Build the Managed Flink application zip: `python -m runtime.sessionizer.package`.

Layout (what the application's ``kinesis.analytics.flink.run.options`` point at, see
RUN_OPTIONS; components/sessionizer.py uses the same constants):

    main.py                                  entrypoint.py
    python/runtime/__init__.py, events.py    the job's code, importable as runtime.*
    python/runtime/sessionizer/*.py
    lib/prism-sessionizer-connector.jar      the Kinesis connector, shaded (connector/pom.xml)

The job's only Python dependency is PyFlink, which the FLINK-1_20 runtime provides, so
no third-party package is vendored: tests/sessionizer/test_package.py fails the day the
job imports anything beyond the standard library, PyFlink and its own modules.

The zip is reproducible: entries sorted, fixed timestamps and modes, so the same
sources give the same bytes and the same content hash (the S3 key of the artifact).
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterator
from pathlib import Path

from runtime.packaging import write_zip

ROOT = Path(__file__).resolve().parents[2]
CONNECTOR = ROOT / "runtime" / "sessionizer" / "connector"
CONNECTOR_JAR = CONNECTOR / "target" / "prism-sessionizer-connector.jar"
DEFAULT_OUTPUT = ROOT / "build" / "sessionizer" / "prism-sessionizer.zip"

MAIN_FILE = "main.py"
PYTHON_DIR = "python"
JAR_FILE = "lib/prism-sessionizer-connector.jar"
RUN_OPTIONS = {"python": MAIN_FILE, "jarfile": JAR_FILE, "pyFiles": f"{PYTHON_DIR}/"}

# Modules of the job; everything else under runtime/ belongs to other deployables.
JOB_MODULES = ("runtime/__init__.py", "runtime/events.py", "runtime/text_settings.py", "runtime/sessionizer")


def job_sources(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """(path in the zip, file) of the job's Python code."""
    for entry in JOB_MODULES:
        path = root / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            relative = file.relative_to(root)
            if "connector" in relative.parts or file.name in ("package.py", "entrypoint.py"):
                continue
            yield f"{PYTHON_DIR}/{relative.as_posix()}", file


def build_jar() -> Path:
    """The shaded connector jar; Maven fetches the connector from Maven Central."""
    subprocess.run(["mvn", "-q", "-B", "package", "-f", str(CONNECTOR / "pom.xml")], check=True)
    return CONNECTOR_JAR


def build(output: Path, jar: Path) -> str:
    if not jar.is_file():
        raise SystemExit(f"connector jar {jar} not found: build it with `make sessionizer-connector`")
    entries = [(MAIN_FILE, ROOT / "runtime" / "sessionizer" / "entrypoint.py"), *job_sources(), (JAR_FILE, jar)]
    return write_zip(output, entries)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--jar", type=Path, help="a connector jar already built (default: build it with Maven)")
    args = parser.parse_args(argv)
    digest = build(args.output, args.jar or build_jar())
    print(f"{args.output} sha256={digest} size={args.output.stat().st_size}")


if __name__ == "__main__":
    main()
