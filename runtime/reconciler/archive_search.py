"""The raw events and the late events of given sessions, found in the region's archive with Athena.

The raw and late buckets hold both regions' objects (two-way replication), one JSON line
per event, in folders by arrival hour. components/reconciler.py declares them as two tables
of one column (the line) whose partition is the hour folder, *injected*: a query names the
folders it reads, so it reads only the hours around the sessions' events, and nothing
else of the bucket. The client's clock and the delivery buffers put an event's arrival a
little off its time: the search covers ``margin`` minutes either side.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from runtime.names import ARCHIVE_HOUR_COLUMN, ARCHIVE_LINE_COLUMN, archive_table, hour_folder
from runtime.reconciler.moves import EventKey, SessionParts
from runtime.reconciler.reconcile import index_events, index_late
from runtime.sessionizer.playback import Event

HOUR_MS: Final = 3_600_000
# Athena takes a query of at most 262,144 bytes: session ids go in chunks well below it.
SESSIONS_PER_QUERY: Final = 1_000
_FINISHED: Final = ("SUCCEEDED", "FAILED", "CANCELLED")


class SearchFailed(RuntimeError):
    """Athena did not answer a search; the invocation fails, and its objects are read again."""


@dataclass
class Found:
    events: dict[str, list[Event]]
    late: dict[str, set[EventKey]]


def hour_folders(parts: SessionParts, margin_minutes: int) -> set[str]:
    """The arrival hours a session's events can be in: from its first event to its last, with the margin."""
    times = [int(t) for record in parts.newest.values() for t in (record["firstEventTime"], record["lastEventTime"])
             if t is not None]  # fmt: skip
    if not times:
        return set()
    margin = margin_minutes * 60_000
    start, end = (min(times) - margin) // HOUR_MS * HOUR_MS, max(times) + margin
    return {hour_folder(t) for t in range(start, end + 1, HOUR_MS)}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def search_query(database: str, session_ids: Iterable[str], folders: Iterable[str]) -> str:
    """The SQL (Athena, Trino's dialect) of both kinds' lines of these sessions in these hour folders."""
    ids = ", ".join(_quoted(sid) for sid in sorted(session_ids))
    hours = ", ".join(_quoted(folder) for folder in sorted(folders))
    selects = [
        f'SELECT \'{kind}\' AS kind, {ARCHIVE_LINE_COLUMN} FROM "{database}"."{archive_table(kind)}" '
        f"WHERE {ARCHIVE_HOUR_COLUMN} IN ({hours}) "
        f"AND json_extract_scalar({ARCHIVE_LINE_COLUMN}, '$.sessionId') IN ({ids})"
        for kind in ("raw", "late")
    ]
    return "\nUNION ALL\n".join(selects)


class ArchiveSearch:
    def __init__(self, athena: Any, workgroup: str, database: str, margin_minutes: int,
                 poll_seconds: float = 1.0, sleep: Any = time.sleep) -> None:  # fmt: skip
        self.athena = athena
        self.workgroup = workgroup
        self.database = database
        self.margin_minutes = margin_minutes
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.queries = 0

    def find(self, due: list[SessionParts]) -> Found:
        found = Found({}, {})
        for start in range(0, len(due), SESSIONS_PER_QUERY):
            chunk = due[start : start + SESSIONS_PER_QUERY]
            folders = set().union(*(hour_folders(parts, self.margin_minutes) for parts in chunk))
            if not folders:
                continue
            raw: list[dict[str, Any]] = []
            late: list[dict[str, Any]] = []
            for kind, line in self._rows(search_query(self.database, [p.session_id for p in chunk], folders)):
                try:
                    document = json.loads(line)
                except ValueError:
                    continue  # not an event: the sessionizer never took it either
                (raw if kind == "raw" else late).append(document)
            index_events(raw, found.events)
            index_late(late, found.late)
        return found

    def _rows(self, query: str) -> Iterator[tuple[str, str]]:
        started = self.athena.start_query_execution(
            QueryString=query, WorkGroup=self.workgroup, QueryExecutionContext={"Database": self.database}
        )
        self.queries += 1
        query_id = started["QueryExecutionId"]
        while True:
            status = self.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            if status["State"] in _FINISHED:
                break
            self.sleep(self.poll_seconds)
        if status["State"] != "SUCCEEDED":
            raise SearchFailed(f"Athena query {query_id} {status['State']}: {status.get('StateChangeReason', '')}")
        first = True
        for page in self.athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
            rows = page["ResultSet"]["Rows"]
            if first:
                rows, first = rows[1:], False  # the header row
            for row in rows:
                kind, line = (cell.get("VarCharValue", "") for cell in row["Data"])
                yield kind, line
