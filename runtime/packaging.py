"""Reproducible zip archives of deployables: same sources, same bytes, same content hash.

The Pulumi program keys uploads by content hash (the sessionizer's S3 key, the Lambda's
source code hash), so a zip must change only when what is in it changes.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable
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
