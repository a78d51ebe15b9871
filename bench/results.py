"""Benchmark figures as data: each benchmark writes what it measured, with its workload, date, commit and
machine, to ``build/bench/<stage>.json``; with ``--reference``, also to ``bench/reference/<stage>.json``,
the figures kept in the repository for the capacity model (``make bench-reference`` refreshes them).

A reference file carries a digest of its figures: a figure edited by hand no longer matches it,
and the tests say so. Measure again instead.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
RESULTS: Final = ROOT / "build" / "bench"
REFERENCE: Final = ROOT / "bench" / "reference"
STAGES: Final = ("traffic", "ingest", "validation", "sessionizer", "sessionizer-state", "session-writer", "replay")


@dataclass(frozen=True)
class Figure:
    name: str  # what was measured, e.g. events_per_cpu_second
    value: float
    unit: str  # e.g. events/s per CPU-second
    workload: str  # the input it was measured on


def add_reference_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", action="store_true",
                        help="also keep the figures as the repository's reference (bench/reference/)")  # fmt: skip


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if
                 line.startswith("model name")]  # fmt: skip
        model = names[0] if names else model
    return {"cores": os.cpu_count(), "model": model}


def commit() -> str:
    def git(*arguments: str) -> str:
        return subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    # The reference files are this writer's own output: one stage's, just written, does not make the
    # next stage's measurement one of a changed tree.
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/reference")
    return head + ("-dirty" if changed else "")


def digest(figures: Sequence[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(list(figures), sort_keys=True).encode()).hexdigest()[:16]


def document(stage: str, figures: Sequence[Figure], now: datetime.datetime | None = None) -> dict[str, Any]:
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    listed = [asdict(figure) for figure in figures]
    return {
        "stage": stage,
        "date": (now or datetime.datetime.now(datetime.UTC)).date().isoformat(),
        "commit": commit(),
        "machine": machine(),
        "figures": listed,
        "digest": digest(listed),
    }


def record(stage: str, figures: Sequence[Figure], reference: bool = False) -> list[Path]:
    """Writes the stage's figures; returns the files written."""
    data = json.dumps(document(stage, figures), indent=1) + "\n"
    written = []
    for folder in (RESULTS, *([REFERENCE] if reference else [])):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{stage}.json"
        path.write_text(data)
        written.append(path)
    print("figures written to " + ", ".join(str(p.relative_to(ROOT)) for p in written))
    return written


def reference(stage: str) -> dict[str, Any]:
    """The repository's reference figures of a stage."""
    return dict(json.loads((REFERENCE / f"{stage}.json").read_text()))
