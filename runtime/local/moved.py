"""What a region outage did to the sessions that were playing: the report's per-region figures.

Per region: the events it acknowledged and how many of them are missing from the raw
buckets. Per session whose player moved mid-play: in how many regions' stores it is a
session, and how each region's row differs from the ground truth of the whole session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.kpl import deaggregate
from runtime.local.relay import StreamTailer
from runtime.local.resources import RegionResources
from runtime.local.simulator import SessionTruth
from runtime.local.stores import StoredRow

EventKey = tuple[str, str, int]  # (session id, event name, client timestamp)
FAILURE_FLAGS = ("ebvs", "vsf")  # a row that says so of a session that played invented a failure


@dataclass(frozen=True)
class RegionFigures:
    region: str
    acknowledged: int  # events the region's ingest service answered 200
    missing_raw: int  # of those, not in any raw bucket

    def describe(self) -> str:
        return f"{self.region}: {self.acknowledged:,} events acknowledged, {self.missing_raw} missing from raw buckets"


@dataclass(frozen=True)
class MovedSession:
    session_id: str
    regions: tuple[str, ...]  # where its events were acknowledged, in order
    counted: int  # regions whose store holds it as a session
    exact: bool  # one region's row holds the whole session's metrics
    invented_failure: bool  # a row says exit before start or start failure, though the truth does not
    rows: tuple[str, ...]  # per region: its row, against the truth
    incomplete: bool = False  # a row counts it, marked incomplete (its start is in another region's part)
    region_down: bool = False  # judged while a region it touched is still down (--outage that does not end)

    @property
    def settled(self) -> bool:
        """Counted once: exact, or while a region it touched is down, marked incomplete; no invented failure."""
        shown = self.exact or (self.region_down and self.counted == 1 and self.incomplete)
        return shown and not self.invented_failure

    def describe(self) -> str:
        verdict = "exact" if self.exact else "marked incomplete" if self.incomplete and self.counted == 1 else "wrong"
        invented = ", an invented failure" if self.invented_failure else ""
        moves = " -> ".join(self.regions)
        return f"{self.session_id} ({moves}): counted {self.counted} time(s), {verdict}{invented}; " + "; ".join(
            self.rows
        )


def region_figures(truths: Sequence[SessionTruth], missing: set[EventKey]) -> list[RegionFigures]:
    served: dict[EventKey, str] = {}
    for truth in truths:
        for document in [*truth.accepted, *truth.too_late, *truth.uncertain]:
            key = (truth.session_id, document["event"], document["timestamp"])
            served[key] = truth.served_by.get(document["timestamp"], truth.region)
    regions = sorted(set(served.values()))
    return [RegionFigures(region, sum(1 for r in served.values() if r == region),
                          sum(1 for key in missing if served.get(key) == region)) for region in regions]  # fmt: skip


def moved_sessions(
    truths: Sequence[SessionTruth],
    rows: Sequence[StoredRow],
    resources: Sequence[RegionResources],
    expected: Callable[[SessionTruth], dict[str, tuple[str, str]]],
    compare: Callable[[dict[str, tuple[str, str]], dict[str, tuple[str, str]]], str],
) -> list[MovedSession]:
    """How each finished session whose player moved mid-play was counted, region by region."""
    region_of = {r.database: r.region.name for r in resources}
    newest: dict[tuple[str, str], StoredRow] = {}  # (session id, region) -> its newest row there
    for row in rows:
        key = (row.session_id, region_of.get(row.database, row.database))
        if key not in newest or row.version > newest[key].version:
            newest[key] = row
    found = []
    for truth in (t for t in truths if t.finished and t.moved):
        want = expected(truth)
        stamps = sorted(document["timestamp"] for document in truth.accepted)
        order = list(dict.fromkeys(truth.served_by[stamp] for stamp in stamps))
        described, exact, invented, counted, incomplete = [], False, False, 0, False
        for region in sorted({r.region.name for r in resources}):
            stored = newest.get((truth.session_id, region))
            if stored is None:
                described.append(f"{region}: no row")
                continue
            if stored.moved:  # its part, replaced: the whole record is another region's
                described.append(f"{region}: moved (version {stored.version})")
                continue
            counted += 1
            incomplete = incomplete or _flag(stored.measures, "incomplete")
            differences = compare(want, stored.measures)
            exact = exact or not differences
            invented = invented or any(_flag(stored.measures, f) and not _flag(want, f) for f in FAILURE_FLAGS)
            state = "final" if stored.final else "not final"
            described.append(f"{region}: {state}, " + (differences or "as the truth"))
        found.append(MovedSession(truth.session_id, tuple(order), counted, exact and counted == 1, invented,
                                  tuple(described), incomplete))  # fmt: skip
    return found


def _flag(measures: dict[str, Any], name: str) -> bool:
    value = measures.get(name)
    return value is not None and value[0] == "true"


def stream_events(kinesis: Any, stream: str) -> set[EventKey]:
    """(session, event, timestamp) of every event a raw stream holds, from its oldest record."""
    tailer, found = StreamTailer(kinesis, stream), set()
    while records := tailer.poll():
        for _, record in records:
            for _, data in deaggregate(record["Data"], record["PartitionKey"]):
                event = json.loads(data)
                found.add((event["sessionId"], event["event"], event["timestamp"]))
    return found
