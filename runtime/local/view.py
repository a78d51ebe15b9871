"""What a local run shows while it runs: a live table on a terminal, short status lines elsewhere.

Both are drawn from the run's snapshot (snapshot.py), taken in a thread so that a slow
answer (a health probe, the dashboards' query) never holds up the simulated players.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.events import MOVED_STATE
from runtime.local.snapshot import Snapshot
from runtime.local.verify import percentile, rounded
from runtime.names import STREAM_KINDS

Snapshots = Callable[[], Snapshot]  # the run, now

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
    down: tuple[str, ...] = ()  # the parts not healthy now
    dashboard_url: str = ""

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
            ("parts down", ", ".join(self.down) or "none"),
            *([("fault", self.fault)] if self.fault else []),
            *([("dashboards", self.dashboard_url)] if self.dashboard_url else []),
        ]

    def line(self) -> str:
        """One status line, under MAX_STATUS_LINE characters."""
        raw, session, late = self.stream_rates
        text = (
            f"{self.phase} | "
            + (f"{self.fault} | " if self.fault else "")
            + (f"down: {', '.join(self.down)} | " if self.down else "")
            + f"in {self.events_per_second:,.1f}/s ({self.acknowledged:,}) | "
            f"raw/session/late {raw:,.1f}/{session:,.1f}/{late:,.1f}/s | active {self.active} ended {self.ended} | "
            f"late {self.late_events} | first/final row p95 {rounded(self.first_row_ms[1])}/"
            f"{rounded(self.final_row_ms[1])} ms | "
            f"errors {self.errors}"
        )
        return text if len(text) < MAX_STATUS_LINE else text[: MAX_STATUS_LINE - 4] + "..."


def status(snapshot: Snapshot) -> Status:
    traffic_seconds = max(1e-9, snapshot.traffic_seconds)
    running = max(1e-9, snapshot.seconds_running)
    # A moved row is a region's part of a session whose whole record another region's store holds.
    latest = [r for r in snapshot.sessions if r["state"] != MOVED_STATE]
    active = [r for r in latest if not r["final"]]
    finals = [r for r in latest if r["final"]]
    played = sum(r["playingMs"] for r in latest)
    rebuffered = sum(r["rebufferMs"] for r in latest)
    raw, session, late = (snapshot.relayed(kind) / running for kind in STREAM_KINDS)
    startups = sorted(r["startupMs"] for r in latest if r["startupMs"] is not None)
    first, final = snapshot.first_row_ms(), snapshot.final_row_ms()
    return Status(
        phase=snapshot.phase,
        events_per_second=snapshot.acknowledged / traffic_seconds,
        acknowledged=snapshot.acknowledged,
        stream_rates=(raw, session, late),
        active=len(active),
        ended=len(finals),
        playing=sum(1 for r in active if r["state"] in ("playing", "buffering")),
        startup_p50_ms=percentile(startups, 0.5),
        startup_p95_ms=percentile(startups, 0.95),
        rebuffer_ratio=rebuffered / (played + rebuffered) if played + rebuffered else None,
        ebvs=sum(1 for r in finals if r["ebvs"]),  # None: not judged (no start seen)
        vsf=sum(1 for r in finals if r["vsf"]),
        late_events=snapshot.relayed("late"),
        first_row_ms=(percentile(first, 0.5), percentile(first, 0.95)),
        final_row_ms=(percentile(final, 0.5), percentile(final, 0.95)),
        errors=len(snapshot.errors),
        fault=snapshot.faults[-1] if snapshot.faults else None,
        down=tuple(snapshot.down()),
        dashboard_url=snapshot.dashboard_url,
    )


async def show(snapshots: Snapshots, live: bool) -> None:
    """Until cancelled: the live table when asked for and on a terminal, status lines otherwise."""
    if live and sys.stdout.isatty():
        await _live_table(snapshots)
        return
    if live:
        print("standard output is not a terminal: status lines every "
              f"{STATUS_LINE_SECONDS:g} s instead of the live view", flush=True)  # fmt: skip
    while True:
        await asyncio.sleep(STATUS_LINE_SECONDS)
        snapshot = await asyncio.to_thread(snapshots)
        print(status(snapshot).line(), flush=True)


async def _live_table(snapshots: Snapshots) -> None:
    from rich.live import Live

    with Live(_table(await asyncio.to_thread(snapshots)), refresh_per_second=2, screen=False) as live:
        try:
            while True:
                await asyncio.sleep(1)
                live.update(_table(await asyncio.to_thread(snapshots)))
        finally:
            live.update(_table(snapshots()))  # the last frame says how the run ended


def _table(snapshot: Snapshot) -> Any:
    from rich.table import Table

    table = Table(title=f"prism-pipeline local ({snapshot.stack}) — Ctrl-C stops", show_header=False)
    for key, value in status(snapshot).rows():
        table.add_row(key, value)
    return table
