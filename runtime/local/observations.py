"""What a region's session writer stored, as the local run sees it.

The writer's handler runs in a thread of the run's process; after each batch the run
hands it the records that are now in the store. From them: each session's newest
version (what the store serves), each distinct final record (one per session, however
often it was sent), and how fresh the rows are (freshness.py). Readers take a copy
(``region_snapshot``) under the same lock the writer thread records with.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from runtime.local.freshness import Freshness
from runtime.local.simulator import SessionTruth
from runtime.local.snapshot import RegionSnapshot
from runtime.names import StreamKind
from runtime.session_writer.records import kinesis_session_records

ArrivalListener = Callable[[float], None]  # a stored record's arrival time in its stream (epoch seconds)


class Observations:
    def __init__(self, truth: Callable[[str], SessionTruth | None]) -> None:
        self._truth = truth  # session id -> what the simulator knows of it
        self._lock = threading.Lock()
        self._latest: dict[str, dict[str, Any]] = {}  # session id -> newest record
        # (session id, version) -> each distinct final record of that version: a final sent again is the
        # same record; a reconciled one (runtime/reconciler) has a higher version.
        self._finals: dict[tuple[str, int], set[str]] = {}
        self._freshness = Freshness()
        self.listeners: list[ArrivalListener] = []

    def stored(self, event: dict[str, Any]) -> None:
        """A Lambda event whose records are all in the store now."""
        now = time.time()
        with self._lock:
            for record in event["Records"]:
                for listener in self.listeners:
                    listener(record["kinesis"]["approximateArrivalTimestamp"])
                for session in kinesis_session_records(record):
                    self._session(dict(session.fields), session.session_id, now)

    def _session(self, fields: dict[str, Any], session_id: str, now: float) -> None:
        if fields["final"]:
            final = json.dumps({k: v for k, v in fields.items() if k != "version"}, sort_keys=True)
            self._finals.setdefault((session_id, fields["version"]), set()).add(final)
        known = self._latest.get(session_id)
        if known is None or known["version"] <= fields["version"]:
            self._latest[session_id] = fields
        self._freshness.observe(fields, self._truth(session_id), now)

    def newest(self) -> list[dict[str, Any]]:
        """Each session's newest record, as handed to the store."""
        with self._lock:
            return list(self._latest.values())

    def region_snapshot(self, region: str, healthy: Mapping[str, bool], relayed: Mapping[StreamKind, int],
                        consumer_lag_ms: Mapping[str, int | None] | None = None) -> RegionSnapshot:  # fmt: skip
        with self._lock:
            different = (f"{sid}: {len(finals)} different final records of version {version}"
                         for (sid, version), finals in self._finals.items() if len(finals) > 1)  # fmt: skip
            return RegionSnapshot(
                region=region,
                healthy=tuple(healthy.items()),
                relayed=tuple(relayed.items()),
                final_sessions=frozenset(sid for sid, record in self._latest.items() if record["final"]),
                different_finals=tuple(sorted(different)),
                first_row_ms=tuple(self._freshness.first_row_ms),
                final_row_ms=tuple(self._freshness.final_row_ms),
                consumer_lag_ms=tuple((consumer_lag_ms or {}).items()),
            )
