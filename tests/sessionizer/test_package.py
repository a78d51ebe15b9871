"""The Managed Flink application zip: layout, reproducibility, and what the job may import."""

from __future__ import annotations

import ast
import io
import sys
import zipfile
from pathlib import Path

import pytest

from runtime.packaging import write_zip
from runtime.sessionizer.package import (
    DEFAULT_OUTPUT,
    JAR_FILE,
    MAIN_FILE,
    PYTHON_DIR,
    ROOT,
    RUN_OPTIONS,
    job_sources,
)


def test_the_job_sources_are_the_sessionizer_and_the_shared_contract_only() -> None:
    names = [name for name, _ in job_sources()]
    assert f"{PYTHON_DIR}/runtime/events.py" in names
    assert f"{PYTHON_DIR}/runtime/sessionizer/job.py" in names
    assert not [n for n in names if "ingest" in n or "package.py" in n or "entrypoint.py" in n]


def test_the_job_imports_nothing_the_managed_flink_runtime_lacks() -> None:
    """Only the standard library, PyFlink and the job's own modules: nothing to vendor."""
    for _, file in job_sources():
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("pyflink", "runtime", "__future__"), (file, module)
                if top == "runtime":
                    shipped = ("runtime.events", "runtime.text_settings")
                    assert module in shipped or module.startswith("runtime.sessionizer"), (file, module)


def test_the_zip_is_reproducible(tmp_path: Path) -> None:
    jar = tmp_path / "connector.jar"
    jar.write_bytes(b"not really a jar")
    entries = [(MAIN_FILE, ROOT / "runtime" / "sessionizer" / "entrypoint.py"), *job_sources(), (JAR_FILE, jar)]
    first = write_zip(tmp_path / "a.zip", entries)
    assert write_zip(tmp_path / "b.zip", reversed(entries)) == first
    jar.write_bytes(b"another jar")
    assert write_zip(tmp_path / "c.zip", entries) != first


@pytest.mark.built
def test_the_built_zip_has_the_layout_the_run_options_name() -> None:
    if not DEFAULT_OUTPUT.is_file():
        pytest.fail(f"{DEFAULT_OUTPUT} is missing: `make sessionizer-zip` builds it (make test does)")
    with zipfile.ZipFile(DEFAULT_OUTPUT) as archive:
        names = set(archive.namelist())
        assert {RUN_OPTIONS["python"], RUN_OPTIONS["jarfile"]} <= names
        assert f"{RUN_OPTIONS['pyFiles']}runtime/sessionizer/job.py" in names
        main = archive.read(MAIN_FILE).decode()
        assert "from runtime.sessionizer.job import main" in main
        with zipfile.ZipFile(io.BytesIO(archive.read(JAR_FILE))) as jar:
            classes = set(jar.namelist())
    assert "prism/sessionizer/SessionIdPartitionKeyGenerator.class" in classes
    assert "org/apache/flink/streaming/connectors/kinesis/FlinkKinesisConsumer.class" in classes
    assert "org/apache/flink/connector/kinesis/sink/KinesisStreamsSink.class" in classes
