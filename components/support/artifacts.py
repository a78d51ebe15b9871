"""The built code the program uploads (application zips): found before any resource is declared."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pulumi

from runtime.stack import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def resolve_artifact(artifact: Path, key: str, build: str) -> Path:
    """A built zip; raises pulumi.RunError (printed without a trace) naming the build when it is not there."""
    path = PROJECT_ROOT / artifact
    if not path.is_file():
        raise pulumi.RunError(str(SettingsError(key, f"must name a built zip (run `{build}`)", str(artifact))))
    return path


def source_code_hash(zip_path: Path) -> str:
    """What Lambda reports as CodeSha256: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()
