"""A local run at one moment, read-only: what the live view, the status lines, the verifier and
the report read. The run takes it (pipeline.py); nobody reading it reaches into a part."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.names import StreamKind


@dataclass(frozen=True)
class RegionSnapshot:
    region: str
    healthy: tuple[tuple[str, bool], ...]  # (part, healthy) of each of the region's parts
    relayed: tuple[tuple[StreamKind, int], ...]  # (stream, user records delivered to its bucket)
    final_sessions: frozenset[str]  # sessions whose final record the writer stored
    different_finals: tuple[str, ...]  # sessions with two different final records, described
    first_row_ms: tuple[float, ...]  # post -> first row reflecting the event (freshness.py)
    final_row_ms: tuple[float, ...]  # post of a session's last event -> its final row
    # (consumer part, ms behind its stream's newest record at its last read; None before one)
    consumer_lag_ms: tuple[tuple[str, int | None], ...] = ()


@dataclass(frozen=True)
class Snapshot:
    stack: str
    phase: str
    seconds_running: float  # since every part was up
    traffic_seconds: float
    acknowledged: int  # events the ingest services answered 200
    sessions: tuple[Mapping[str, Any], ...]  # each session's newest row, as the dashboards' query answers
    regions: tuple[RegionSnapshot, ...]
    stand_ins_healthy: tuple[tuple[str, bool], ...]
    errors: tuple[str, ...]
    faults: tuple[str, ...] = ()  # --chaos: each fault that struck, and whether its part is back
    dashboard_url: str = ""  # the run's dashboard page

    def relayed(self, kind: StreamKind) -> int:
        return sum(count for region in self.regions for stream, count in region.relayed if stream == kind)

    def first_row_ms(self) -> list[float]:
        return sorted(x for region in self.regions for x in region.first_row_ms)

    def final_row_ms(self) -> list[float]:
        return sorted(x for region in self.regions for x in region.final_row_ms)

    def final_sessions(self) -> set[str]:
        return {sid for region in self.regions for sid in region.final_sessions}

    def different_finals(self) -> list[str]:
        return sorted(problem for region in self.regions for problem in region.different_finals)

    def down(self) -> list[str]:
        """The parts not healthy now, as "part (region)"."""
        return [f"{part} ({region.region})" for region in self.regions for part, ok in region.healthy if not ok] + [
            part for part, ok in self.stand_ins_healthy if not ok
        ]
