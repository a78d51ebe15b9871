"""One region's reconciler: reads its buckets, writes its share of the moved sessions to its session stream.

Each region runs one. Its buckets hold both regions' objects (two-way replication), so
both reconcilers see the same parts of every moved session and decide the same records
(moves.py); each writes only those of its own region, into its own session stream,
keyed by session id like the sessionizer's records. The session writer then stores them
after everything the sessionizer sent for the session before (one shard, in order), and
the Firehose of the session stream lands them in the session bucket, where the next pass
sees they are written. No call crosses regions, and a region that is down simply writes
its share when it is back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from runtime.names import StreamKind
from runtime.reconciler.buckets import BucketLines
from runtime.reconciler.moves import EventKey, reconciled, split_sessions
from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import SessionSettings

MAX_RECORDS_PER_PUT: Final = 500  # Kinesis PutRecords


class Reconciler:
    def __init__(self, region: str, s3: Any, buckets: Mapping[StreamKind, str], kinesis: Any, session_stream: str,
                 settings: Callable[[str], SessionSettings]) -> None:  # fmt: skip
        self.region = region
        self.kinesis = kinesis
        self.session_stream = session_stream
        self.settings = settings  # a region -> what its sessionizer runs with
        self.records = BucketLines(s3, buckets["session"], "session")
        self.raw = BucketLines(s3, buckets["raw"], "raw")
        self.late = BucketLines(s3, buckets["late"], "late")
        self.moved_sessions = 0  # sessions with parts in more than one region, as of the last pass
        self._newest: dict[tuple[str, str], Mapping[str, Any]] = {}  # (session, region) -> newest record

    def run_once(self) -> int:
        """One pass; the number of records written."""
        for record in self.records.refresh():
            key = (record["sessionId"], record["region"])
            known = self._newest.get(key)
            if known is None or known["version"] < record["version"]:
                self._newest[key] = record
        split = split_sessions(self._newest.values())
        self.moved_sessions = len(split)
        due = [parts for parts in split if parts.settled and self.region in parts.newest]
        if not due:
            return 0
        self.raw.refresh()
        self.late.refresh()
        wanted = {parts.session_id for parts in due}
        events = _events(self.raw.documents(), wanted)
        late = _late_keys(self.late.documents(), wanted)
        out = []
        for parts in due:
            mine = reconciled(parts, events.get(parts.session_id, []), late.get(parts.session_id, set()),
                              self.settings).get(self.region)  # fmt: skip
            if mine is not None:
                out.append(mine)
        self._put(out)
        return len(out)

    def _put(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), MAX_RECORDS_PER_PUT):
            chunk = records[start : start + MAX_RECORDS_PER_PUT]
            entries = [{"Data": json.dumps(r).encode(), "PartitionKey": r["sessionId"]} for r in chunk]
            while entries:
                answer = self.kinesis.put_records(StreamName=self.session_stream, Records=entries)
                # Throttled entries are put again; the rest are in, in order per shard.
                entries = [e for e, result in zip(entries, answer["Records"], strict=True) if "ErrorCode" in result]


def _events(documents: Iterable[Mapping[str, Any]], sessions: set[str]) -> dict[str, list[Event]]:
    found: dict[str, list[Event]] = {}
    for document in documents:
        if document.get("sessionId") in sessions:
            try:
                event = Event.from_raw(document)
            except (KeyError, TypeError, ValueError):
                continue  # unparseable: the sessionizer sent it to the late stream
            found.setdefault(event.session_id, []).append(event)
    return found


def _late_keys(documents: Iterable[Mapping[str, Any]], sessions: set[str]) -> dict[str, set[EventKey]]:
    found: dict[str, set[EventKey]] = {}
    for document in documents:
        event = document.get("event")
        if isinstance(event, dict) and document.get("sessionId") in sessions:
            try:
                found.setdefault(document["sessionId"], set()).add((str(event["event"]), int(event["timestamp"])))
            except (KeyError, TypeError, ValueError):
                continue
    return found
