"""The measured figures the capacity model uses: each from a reference file a benchmark wrote.

A figure missing from its file, or a file missing, stops the model with the file and the
benchmark that writes it; the model never falls back on a number of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

REFERENCE: Final = Path(__file__).resolve().parents[2] / "bench" / "reference"


class MissingFigure(LookupError):
    """A figure the model needs is not in the benchmarks' reference files."""


@dataclass(frozen=True)
class Measured:
    """One figure, with where it comes from."""

    stage: str
    name: str
    value: float
    unit: str
    workload: str
    date: str
    commit: str

    @property
    def source(self) -> str:
        return f"bench/reference/{self.stage}.json {self.name} ({self.date}, {self.commit})"


class Figures:
    """The reference files of a folder (the repository's, unless a test names another)."""

    def __init__(self, folder: Path = REFERENCE) -> None:
        self._folder = folder
        self._stages: dict[str, dict[str, Any]] = {}

    def _stage(self, stage: str) -> dict[str, Any]:
        if stage not in self._stages:
            path = self._folder / f"{stage}.json"
            if not path.exists():
                raise MissingFigure(f"{path} is missing: run `make bench-reference`")
            self._stages[stage] = json.loads(path.read_text())
        return self._stages[stage]

    def get(self, stage: str, name: str) -> Measured:
        document = self._stage(stage)
        for figure in document["figures"]:
            if figure["name"] == name:
                return Measured(stage, name, float(figure["value"]), figure["unit"], figure["workload"],
                                document["date"], document["commit"])  # fmt: skip
        raise MissingFigure(f"bench/reference/{stage}.json has no figure {name!r}: run `make bench-reference`")

    def value(self, stage: str, name: str) -> float:
        return self.get(stage, name).value
