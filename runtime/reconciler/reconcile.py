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
from runtime.reconciler.moves import EventKey, PartKey, SessionParts, keep_newest, reconciled, split_sessions
from runtime.retries import KINESIS_PUTS, RetryLater, is_retry_later, retrying
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
        # What the buckets held so far, each object read once: each part's newest record, and per
        # session its raw events and the keys of those that went late.
        self._newest: dict[PartKey, Mapping[str, Any]] = {}
        self._events: dict[str, list[Event]] = {}
        self._late: dict[str, set[EventKey]] = {}

    def run_once(self) -> int:
        """One pass; the number of records written."""
        split = split_sessions(keep_newest(self._newest, self.records.refresh()))
        self.moved_sessions = len(split)
        due = due_here(self.region, split)
        if not due:
            return 0  # the raw and late buckets are read only once a moved session is due
        index_events(self.raw.refresh(), self._events)
        index_late(self.late.refresh(), self._late)
        out = region_share(self.region, due, self._events, self._late, self.settings)
        put_records(self.kinesis, self.session_stream, out)
        return len(out)


def due_here(region: str, split: Iterable[SessionParts]) -> list[SessionParts]:
    """The moved sessions whose parts have all ended, and of which this region holds one."""
    return [parts for parts in split if parts.settled and region in parts.newest]


def region_share(region: str, due: Iterable[SessionParts], events: Mapping[str, list[Event]],
                 late: Mapping[str, set[EventKey]],
                 settings: Callable[[str], SessionSettings]) -> list[dict[str, Any]]:  # fmt: skip
    """The records this region writes for the due sessions: those its store does not hold yet."""
    out = []
    for parts in due:
        sid = parts.session_id
        mine = reconciled(parts, events.get(sid, []), late.get(sid, set()), settings).get(region)
        if mine is not None:
            out.append(mine)
    return out


def put_records(kinesis: Any, stream: str, records: list[dict[str, Any]]) -> None:
    """Into the session stream, keyed by session id like the sessionizer's records (one shard, in order)."""
    for start in range(0, len(records), MAX_RECORDS_PER_PUT):
        chunk = records[start : start + MAX_RECORDS_PER_PUT]
        entries = [{"Data": json.dumps(r).encode(), "PartitionKey": r["sessionId"]} for r in chunk]
        # Refused (throttled) entries are put again after a backoff until taken; the rest are in,
        # in order per shard.
        for attempt in retrying(KINESIS_PUTS, is_retry_later):
            with attempt:
                answer = kinesis.put_records(StreamName=stream, Records=entries)
                entries = [e for e, result in zip(entries, answer["Records"], strict=True) if "ErrorCode" in result]
                if entries:
                    raise RetryLater(f"{stream} refused {len(entries)} records")


def index_events(documents: Iterable[Mapping[str, Any]], into: dict[str, list[Event]]) -> None:
    for document in documents:
        try:
            event = Event.from_raw(document)
        except (KeyError, TypeError, ValueError):
            continue  # unparseable: the sessionizer sent it to the late stream
        into.setdefault(event.session_id, []).append(event)


def index_late(documents: Iterable[Mapping[str, Any]], into: dict[str, set[EventKey]]) -> None:
    for document in documents:
        event = document.get("event")
        if isinstance(event, dict) and isinstance(document.get("sessionId"), str):
            try:
                into.setdefault(document["sessionId"], set()).add((str(event["event"]), int(event["timestamp"])))
            except (KeyError, TypeError, ValueError):
                continue
