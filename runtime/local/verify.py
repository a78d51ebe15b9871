"""The end of a local run: drain, read back what the stand-ins hold, compare with the ground truth.

Draining waits until everything the simulator sent has gone all the way through: every
finished session's final record in the store, every acknowledged event in the raw
bucket, every too-late event in the late bucket, and every session whose player moved
between regions made whole by the reconcilers. It says what it still waits for, and
gives up after the bound with a message naming what never came.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.local.moto_server import MotoServer
from runtime.local.moved import EventKey, MovedSession, RegionFigures, moved_sessions, region_figures
from runtime.local.replaying import LocalReplay
from runtime.local.resources import RegionResources
from runtime.local.simulator import PlayerSimulator, SessionTruth
from runtime.local.snapshot import Snapshot
from runtime.local.stores import LocalStore, StoredRow, newest_finals, newest_not_final
from runtime.names import data_prefix, literal_head
from runtime.reconciler.buckets import object_keys
from runtime.session_writer.records import MEASURES, SessionRecord, timestream_row
from runtime.sessionizer.session import SessionSettings

COMPARED_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Pending:
    """What has not arrived yet."""

    final_records: int
    raw_events: int
    late_events: int
    moved_sessions: int = 0  # sessions whose player moved between regions, not yet whole in one store

    @property
    def done(self) -> bool:
        return not (self.final_records or self.raw_events or self.late_events or self.moved_sessions)

    def describe(self) -> str:
        """What is missing, e.g. '2 final records, 1 late event'."""
        counts = (("final record", self.final_records), ("raw event", self.raw_events),
                  ("late event", self.late_events), ("moved session", self.moved_sessions))  # fmt: skip
        return ", ".join(f"{n} {what}{'s' if n != 1 else ''}" for what, n in counts if n) or "nothing"


@dataclass(frozen=True)
class ComparedSession:
    """A session the run compared: the ground truth's final record, and the measures the store gave."""

    session_id: str
    expected: dict[str, Any]  # the truth's final record (session record fields)
    stored: dict[str, tuple[str, str]] | None  # measure -> (value, Timestream type); None: no final row
    events: tuple[dict[str, Any], ...] = ()  # the events it was made of, in time order (none for a replay's copy)


@dataclass
class Report:
    events_acknowledged: int
    traffic_seconds: float  # from the first viewer's start to the last session's end
    sessions_compared: int  # replayed sessions included
    sessions_replayed: int
    sessions_matched: int
    mismatches: list[str]
    missing_raw_events: int
    held_in_down_region: int  # not in a raw bucket yet: in the raw stream of a region still down (--outage)
    sessions_in_down_region: int  # finished, never moved: in the store of a region still down (--outage)
    missing_examples: list[str]  # a few of the missing events, to look them up
    too_late_events: int
    uncertain_late_events: tuple[int, int]  # (sent late, maybe taken on time: SessionTruth.uncertain; of them late)
    missing_late_events: int
    on_time_events_late: int  # sent on time, yet in the late bucket: what the sessions then miss
    on_time_late_examples: list[str]  # with how long after its own time each was acknowledged
    first_row_p50_ms: float | None  # post -> the first row that reflects the event (freshness.py)
    first_row_p95_ms: float | None
    final_row_p50_ms: float | None  # post of a session's last event -> its final row
    final_row_p95_ms: float | None
    drain_seconds: float
    drained: bool  # everything arrived within the drain bound
    errors: list[str]
    # Checks that matter most when parts die (always made): a session's final record is one
    # record, however often it was sent, and the row the store serves is the final one.
    different_finals: list[str] = field(default_factory=list)
    final_not_newest: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)  # --chaos: each fault, when it struck, when the part was back
    # Per region (with both): events acknowledged and missing; --outage: how the moved sessions were counted.
    regions: list[RegionFigures] = field(default_factory=list)
    moved: list[MovedSession] = field(default_factory=list)
    # For the run's HTML report (report_page.py): every compared session, and the late bucket's records.
    compared: list[ComparedSession] = field(default_factory=list)
    late_events: list[tuple[int, str]] = field(default_factory=list)  # (processing time ms, reason)
    page: Path | None = None  # the report page in the run's folder (report_page.py), once written

    @property
    def events_per_second(self) -> float:
        """The live view's 'events in': acknowledged events over the seconds of traffic."""
        return self.events_acknowledged / max(1e-9, self.traffic_seconds)

    @property
    def ok(self) -> bool:
        return (
            self.sessions_compared > 0
            and self.sessions_matched == self.sessions_compared
            and not self.missing_raw_events
            and not self.missing_late_events
            and not self.errors
            and not self.different_finals
            and not self.final_not_newest
            and all(moved.settled for moved in self.moved)
        )


class Verifier:
    """Reads the ground truth (the simulator), what the stand-ins hold, and the run's snapshots."""

    def __init__(self, simulator: PlayerSimulator, moto: MotoServer, store: LocalStore, regions: list[RegionResources],
                 session_settings: Callable[[str], SessionSettings], held: Callable[[], set[EventKey]] = set,
                 down: Callable[[], str | None] = lambda: None) -> None:  # fmt: skip
        self.simulator = simulator
        self.session_settings = session_settings  # a region -> what its sessionizer runs with
        self.moto = moto
        self.store = store
        self.regions = regions
        self.replays: list[LocalReplay] = []  # the run's raw buckets fired again, if asked
        # --outage that does not end: the events still in the down region's raw stream, which keeps them
        # for its retention (they reach the raw bucket when the region is back); none otherwise.
        self.held = held
        # --outage that does not end: the region still down. Its store is down with it, as on AWS: the
        # dashboards' data source of that region answers nothing, and the sessions that touched it are
        # judged by what the other region's store shows of them.
        self.down = down
        self._objects_read: dict[str, dict[str, ObjectRead]] = {}  # kind -> object key -> what it holds

    # -- what the simulator knows (and what a replay made of it) ---------------------------

    def _copies(self, truth: SessionTruth) -> list[tuple[str, int]]:
        """(session id, time shift) of a session and of each of its replayed copies."""
        copies = [(truth.session_id, 0)]
        for replay in self.replays:
            if replay.region == truth.region:
                t = replay.transform
                copies += [(t.session_id(truth.session_id, c), t.shift_ms) for c in range(t.multiplier)]
        return copies

    def expected_sessions(self) -> list[tuple[str, SessionTruth]]:
        """Every finished session to compare, replayed ones with their original's truth."""
        return [(sid, t) for t in self.simulator.finished_sessions() for sid, _ in self._copies(t)]

    def _keys(self, documents: Callable[[SessionTruth], list[dict[str, Any]]]) -> set[EventKey]:
        return {(sid, d["event"], d["timestamp"] + shift) for t in self.simulator.sessions.values()
                for sid, shift in self._copies(t) for d in documents(t)}  # fmt: skip

    def acknowledged(self) -> set[EventKey]:
        return self._keys(lambda t: [*t.accepted, *t.too_late, *t.uncertain])

    def too_late(self) -> set[EventKey]:
        return self._keys(lambda t: t.too_late)

    def uncertain(self) -> set[EventKey]:
        """Sent late, to a region that may take them on time (SessionTruth.uncertain)."""
        return self._keys(lambda t: t.uncertain)

    def _acknowledged_after(self, key: EventKey) -> str:
        """An event and how long after its own (client) time the ingest service acknowledged it."""
        session_id, name, timestamp = key
        truth = self.simulator.sessions.get(session_id)
        posted = truth.posted_at.get(timestamp) if truth is not None else None
        delay = "" if posted is None else f", acknowledged {posted - timestamp / 1000:.1f} s after its time"
        return f"{session_id} {name} at {timestamp}{delay}"

    # -- what arrived ---------------------------------------------------------------------

    def _touched_down_region(self, truth: SessionTruth) -> bool:
        down = self.down()
        return down is not None and down in truth.regions

    def readable_rows(self) -> list[StoredRow]:
        """The rows of the stores whose region is up."""
        down = self.down()
        unreadable = {r.database for r in self.regions if r.region.name == down}
        return [row for row in self.store.stored_rows() if row.database not in unreadable]

    def pending(self, snapshot: Snapshot) -> Pending:
        wanted = {sid for sid, t in self.expected_sessions() if not self._touched_down_region(t)}
        late_seen = self.objects("late")
        return Pending(
            final_records=len(wanted - snapshot.final_sessions()),
            raw_events=len(self.acknowledged() - self.objects("raw") - self.held()),
            late_events=len(self.too_late() - late_seen),
            moved_sessions=sum(1 for m in self._moved(self.readable_rows, late_seen) if not m.settled),
        )

    def _truth_record(self, truth: SessionTruth, late_seen: set[EventKey]) -> dict[str, Any]:
        """The truth's final record; its uncertain events count when they are not in the late bucket."""
        taken = [d for d in truth.uncertain if (truth.session_id, d["event"], d["timestamp"]) not in late_seen]
        return truth.expected_record(self.session_settings(truth.region), taken)

    def _truth_measures(self, truth: SessionTruth, late_seen: set[EventKey]) -> dict[str, tuple[str, str]]:
        return timestream_row_measures(self._truth_record(truth, late_seen))

    def _moved(self, rows: Callable[[], Sequence[StoredRow]], late_seen: set[EventKey]) -> list[MovedSession]:
        """How each finished moved session is counted (the store is read only if there is one); while
        its region is down, it must be shown once, and either exact or marked incomplete."""
        truths = [t for t in self.simulator.finished_sessions() if t.moved]
        if not truths:
            return []
        found = moved_sessions(truths, rows(), self.regions, lambda t: self._truth_measures(t, late_seen), compare)
        region_down = self.down() is not None
        return [dataclasses.replace(m, region_down=region_down) for m in found]

    async def drain(self, bound_seconds: float, snapshots: Callable[[], Snapshot],
                    progress: Callable[[Pending, float], None]) -> tuple[bool, float]:  # fmt: skip
        """Waits until nothing is pending or the bound is up; (drained, seconds waited)."""
        started = time.monotonic()
        while True:
            pending = await asyncio.to_thread(lambda: self.pending(snapshots()))
            waited = time.monotonic() - started
            progress(pending, waited)
            if pending.done:
                return True, waited
            if waited >= bound_seconds:
                return False, waited
            await asyncio.sleep(1)

    def objects(self, kind: str) -> set[EventKey]:
        """(session, event, timestamp) of every event line under the kind's prefix in its buckets.

        An object never changes once written, and its replica in the other region's bucket has the
        same key: each key is read once, on the first call that finds it."""
        return {event for read in self._read(kind).values() for event in read.events}

    def late_events(self) -> list[tuple[int, str]]:
        """(processing time in epoch ms, reason) of every record in the late buckets."""
        return sorted(late for read in self._read("late").values() for late in read.late)

    def _read(self, kind: str) -> dict[str, ObjectRead]:
        """What each object under the kind's prefix holds, each key read once (objects never change)."""
        read = self._objects_read.setdefault(kind, {})
        for resources in self.regions:
            s3 = self.moto.client("s3", resources.region.name)
            bucket = resources.buckets[kind]  # type: ignore[index]
            for key in object_keys(s3, bucket, literal_head(data_prefix(kind))):  # type: ignore[arg-type]
                if key not in read:
                    read[key] = _object_read(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), kind == "late")
        return read

    # -- the verdict ---------------------------------------------------------------------

    def report(self, snapshot: Snapshot, drained: tuple[bool, float]) -> Report:
        raw_seen, late_seen = self.objects("raw"), self.objects("late")
        rows = self.readable_rows()
        stored = newest_finals(rows)
        expected_sessions, in_down_region = [], 0
        for session_id, truth in self.expected_sessions():
            if not self._touched_down_region(truth):
                expected_sessions.append((session_id, truth))
            elif not truth.moved:
                in_down_region += 1  # its rows are in the store of the region still down
        mismatches, matched, compared = [], 0, []
        for session_id, truth in expected_sessions:
            record = self._truth_record(truth, late_seen)
            expected = timestream_row_measures(record)
            got = stored.get(session_id)
            events = sorted(truth.accepted, key=lambda d: d["timestamp"]) if session_id == truth.session_id else []
            compared.append(ComparedSession(session_id, record, got, tuple(events)))
            replayed = "" if session_id == truth.session_id else f" (replay of {truth.session_id})"
            if got is None:
                mismatches.append(f"{session_id}{replayed}: no final record in the store")
            elif differences := compare(expected, got):
                mismatches.append(f"{session_id}{replayed}: {differences}")
            else:
                matched += 1
        acknowledged, too_late = self.acknowledged(), self.too_late()
        held = self.held() - raw_seen
        missing_raw = sorted(key for key in acknowledged if key not in raw_seen and key not in held)
        missing_late = sorted(key for key in too_late if key not in late_seen)
        uncertain = self.uncertain()
        on_time_late = sorted(key for key in acknowledged - too_late - uncertain if key in late_seen)
        truths = list(self.simulator.sessions.values())
        examples = [f"raw {key}" for key in missing_raw[:5]] + [f"late {key}" for key in missing_late[:5]]
        first, final = snapshot.first_row_ms(), snapshot.final_row_ms()
        return Report(
            events_acknowledged=self.simulator.stats.events_acknowledged,
            traffic_seconds=snapshot.traffic_seconds,
            sessions_compared=len(expected_sessions),
            sessions_in_down_region=in_down_region,
            sessions_replayed=sum(1 for sid, truth in expected_sessions if sid != truth.session_id),
            sessions_matched=matched,
            mismatches=mismatches,
            missing_raw_events=len(missing_raw),
            held_in_down_region=len(held & acknowledged),
            missing_examples=examples,
            too_late_events=len(too_late),
            uncertain_late_events=(len(uncertain), len(uncertain & late_seen)),
            missing_late_events=len(missing_late),
            on_time_events_late=len(on_time_late),
            on_time_late_examples=[self._acknowledged_after(key) for key in on_time_late[:5]],
            first_row_p50_ms=percentile(first, 0.5),
            first_row_p95_ms=percentile(first, 0.95),
            final_row_p50_ms=percentile(final, 0.5),
            final_row_p95_ms=percentile(final, 0.95),
            drained=drained[0],
            drain_seconds=drained[1],
            errors=list(snapshot.errors),
            different_finals=snapshot.different_finals(),
            final_not_newest=newest_not_final(rows, {sid for sid, _ in expected_sessions}),
            regions=region_figures(truths, set(missing_raw)) if len(self.regions) > 1 else [],
            moved=self._moved(lambda: rows, late_seen),
            compared=compared,
            late_events=self.late_events(),
        )


@dataclass(frozen=True)
class ObjectRead:
    events: tuple[EventKey, ...]  # (session, event, timestamp) of each event line
    late: tuple[tuple[int, str], ...]  # of a late record: (processing time in epoch ms, reason)


def _object_read(body: bytes, late_records: bool) -> ObjectRead:
    """What a raw or late object holds."""
    events, late = [], []
    for line in body.splitlines():
        document = json.loads(line)
        # A late record wraps the event; a raw line is the event.
        event = document["event"] if isinstance(document.get("event"), dict) else document
        if "sessionId" in event:
            events.append((event["sessionId"], event["event"], event["timestamp"]))
        if late_records:
            late.append((int(document.get("processingTime") or 0), str(document.get("reason"))))
    return ObjectRead(tuple(events), tuple(late))


def timestream_row_measures(record: dict[str, Any]) -> dict[str, tuple[str, str]]:
    session = SessionRecord(record["sessionId"], record["version"], record["updateTime"], record)
    return {m["Name"]: (m["Value"], m["Type"]) for m in timestream_row(session)["MeasureValues"]}


def compare(expected: dict[str, tuple[str, str]], got: dict[str, tuple[str, str]]) -> str:
    """Differences between two rows' measures; numbers within a nanosecond's worth of rounding."""
    differences = []
    for name in sorted(set(expected) | set(got)):
        if name not in MEASURES:
            continue
        want, have = expected.get(name), got.get(name)
        if want == have:
            continue
        if want and have and want[1] == "DOUBLE" and abs(float(want[0]) - float(have[0])) <= COMPARED_TOLERANCE:
            continue
        differences.append(f"{name} expected {want[0] if want else None}, got {have[0] if have else None}")
    return "; ".join(differences)


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of values sorted in ascending order."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def rounded(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
