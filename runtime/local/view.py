"""What a local run shows while it runs: a live table on a terminal, short status lines elsewhere."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.local.verify import percentile, rounded
from runtime.names import STREAM_KINDS

if TYPE_CHECKING:
    from runtime.local.pipeline import LocalPipeline

STATUS_LINE_SECONDS = 5.0
MAX_STATUS_LINE = 160


@dataclass(frozen=True)
class Status:
    phase: str
    events_per_second: float  # acknowledged events over the seconds of traffic so far
    acknowledged: int
    stream_rates: tuple[float, float, float]  # raw, session, late user records/s
    active: int
    ended: int
    playing: int
    startup_p50_ms: float | None
    startup_p95_ms: float | None
    rebuffer_ratio: float | None
    ebvs: int
    vsf: int
    late_events: int
    first_row_ms: tuple[float | None, float | None]  # p50, p95: post -> first row reflecting the event
    final_row_ms: tuple[float | None, float | None]  # p50, p95: post of the last event -> final row
    errors: int
    fault: str | None = None  # --chaos: the latest fault and whether its part is back

    def rows(self) -> list[tuple[str, str]]:
        raw, session, late = self.stream_rates
        return [
            ("phase", self.phase),
            ("events in", f"{self.events_per_second:,.1f}/s ({self.acknowledged:,} acknowledged)"),
            ("streams raw / session / late", f"{raw:,.1f}/s / {session:,.1f}/s / {late:,.1f}/s"),
            ("active sessions", f"{self.active:,} ({self.ended:,} ended)"),
            ("concurrent plays", f"{self.playing:,}"),
            ("startup p50 / p95", f"{rounded(self.startup_p50_ms)} / {rounded(self.startup_p95_ms)} ms"),
            ("rebuffer ratio", "-" if self.rebuffer_ratio is None else f"{self.rebuffer_ratio:.3%}"),
            ("EBVS / VSF", f"{self.ebvs} / {self.vsf} of {self.ended} ended"),
            ("late events", f"{self.late_events:,}"),
            ("post -> first row p50 / p95", f"{rounded(self.first_row_ms[0])} / {rounded(self.first_row_ms[1])} ms"),
            ("post -> final row p50 / p95", f"{rounded(self.final_row_ms[0])} / {rounded(self.final_row_ms[1])} ms"),
            ("errors", str(self.errors)),
            *([("fault", self.fault)] if self.fault else []),
        ]

    def line(self) -> str:
        """One status line, under MAX_STATUS_LINE characters."""
        raw, session, late = self.stream_rates
        text = (
            f"{self.phase} | "
            + (f"{self.fault} | " if self.fault else "")
            + f"in {self.events_per_second:,.1f}/s ({self.acknowledged:,}) | "
            f"raw/session/late {raw:,.1f}/{session:,.1f}/{late:,.1f}/s | active {self.active} ended {self.ended} | "
            f"late {self.late_events} | first/final row p95 {rounded(self.first_row_ms[1])}/"
            f"{rounded(self.final_row_ms[1])} ms | "
            f"errors {self.errors}"
        )
        return text if len(text) < MAX_STATUS_LINE else text[: MAX_STATUS_LINE - 4] + "..."


def status(pipeline: LocalPipeline) -> Status:
    traffic_seconds = max(1e-9, pipeline.traffic_seconds())
    elapsed = max(1e-9, time.monotonic() - pipeline.started_at)
    simulator = pipeline.simulator
    latest = pipeline.newest_sessions()
    active = [r for r in latest if not r["final"]]
    finals = [r for r in latest if r["final"]]
    played = sum(r["playingMs"] for r in latest)
    rebuffered = sum(r["rebufferMs"] for r in latest)
    rates = tuple(sum(run.relays[kind].stats.user_records for run in pipeline.regions) / elapsed
                  for kind in STREAM_KINDS)  # fmt: skip
    startups = sorted(r["startupMs"] for r in latest if r["startupMs"] is not None)
    first = sorted(x for run in pipeline.regions for x in run.freshness.first_row_ms)
    final = sorted(x for run in pipeline.regions for x in run.freshness.final_row_ms)
    acknowledged = simulator.stats.events_acknowledged if simulator else 0
    return Status(
        phase=pipeline.phase(),
        events_per_second=acknowledged / traffic_seconds,
        acknowledged=acknowledged,
        stream_rates=(rates[0], rates[1], rates[2]),
        active=len(active),
        ended=len(finals),
        playing=sum(1 for r in active if r["state"] in ("playing", "buffering")),
        startup_p50_ms=percentile(startups, 0.5),
        startup_p95_ms=percentile(startups, 0.95),
        rebuffer_ratio=rebuffered / (played + rebuffered) if played + rebuffered else None,
        ebvs=sum(r["ebvs"] for r in finals),
        vsf=sum(r["vsf"] for r in finals),
        late_events=sum(run.relays["late"].stats.user_records for run in pipeline.regions),
        first_row_ms=(percentile(first, 0.5), percentile(first, 0.95)),
        final_row_ms=(percentile(final, 0.5), percentile(final, 0.95)),
        errors=len(pipeline.errors()),
        fault=latest_fault(pipeline),
    )


def latest_fault(pipeline: LocalPipeline) -> str | None:
    chaos = pipeline.chaos
    struck = [fault for fault in chaos.faults if fault.struck_s is not None] if chaos else []
    return struck[-1].describe() if struck else None


async def show(pipeline: LocalPipeline, live: bool) -> None:
    """Until cancelled: the live table when asked for and on a terminal, status lines otherwise."""
    if live and sys.stdout.isatty():
        await _live_table(pipeline)
        return
    if live:
        print("standard output is not a terminal: status lines every "
              f"{STATUS_LINE_SECONDS:g} s instead of the live view", flush=True)  # fmt: skip
    while True:
        await asyncio.sleep(STATUS_LINE_SECONDS)
        print(status(pipeline).line(), flush=True)


async def _live_table(pipeline: LocalPipeline) -> None:
    from rich.live import Live

    with Live(_table(pipeline), refresh_per_second=2, screen=False) as live:
        try:
            while True:
                await asyncio.sleep(1)
                live.update(_table(pipeline))
        finally:
            live.update(_table(pipeline))  # the last frame says how the run ended


def _table(pipeline: LocalPipeline) -> Any:
    from rich.table import Table

    table = Table(title=f"prism-pipeline local ({pipeline.options.stack}) — Ctrl-C stops", show_header=False)
    for key, value in status(pipeline).rows():
        table.add_row(key, value)
    return table
