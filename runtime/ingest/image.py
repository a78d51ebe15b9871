"""The ingest image's tag in a stack's own repositories: a digest of what its build reads.

Previews, deploys, the preflight and the deploy workflow all compute it from the files of
one checkout, so they name the same image; a change that does not touch the build's
inputs leaves the tag, and so the running task definition, as it is. The inputs are the
Dockerfile and the paths it copies from the build context, less what .dockerignore keeps
out of that context (its patterns as this repository writes them: a path, a `*` glob, or
`**/` for any depth); a test holds BUILD_INPUTS to the Dockerfile's COPY lines.
"""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]  # the build context: the repository's root
DOCKERFILE = "runtime/ingest/Dockerfile"
# The build context's paths the Dockerfile copies, besides the Dockerfile itself.
BUILD_INPUTS = ("pyproject.toml", "runtime/ingest/constraints.txt", "runtime")
DOCKERIGNORE = ".dockerignore"
TAG_PREFIX = "src-"
_DIGEST_CHARACTERS = 20


def _ignore_patterns(root: Path) -> list[str]:
    lines = (root / DOCKERIGNORE).read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def _ignored(relative: Path, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps a path out: a pattern matches it or one of its folders."""
    prefixes = [Path(*relative.parts[: n + 1]).as_posix() for n in range(len(relative.parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatchcase(part, pattern[3:]) for part in relative.parts):
                return True
        elif any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            return True
    return False


def build_files(root: Path = REPOSITORY) -> list[Path]:
    """Every file the image's build reads, relative to the repository root, sorted."""
    patterns = _ignore_patterns(root)
    files: set[Path] = {Path(DOCKERFILE)}
    for name in BUILD_INPUTS:
        path = root / name
        if not path.exists():
            raise FileNotFoundError(f"the ingest image's build input {name} is missing under {root}")
        candidates = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        files.update(c.relative_to(root) for c in candidates if not _ignored(c.relative_to(root), patterns))
    return sorted(files)


def source_tag(root: Path = REPOSITORY) -> str:
    """The tag: `src-` and the start of a SHA-256 over each input's path and bytes."""
    digest = hashlib.sha256()
    for relative in build_files(root):
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update((root / relative).read_bytes() + b"\0")
    return TAG_PREFIX + digest.hexdigest()[:_DIGEST_CHARACTERS]
