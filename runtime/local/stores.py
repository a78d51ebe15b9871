"""The session store of a local run (`make run RUN_ARGS="--store ..."`), and how it is read back.

influxdb (the default): a real InfluxDB 1.6 (runtime/local/influxdb.py) with one database
per region, as the program names them; the session writer fills it through its InfluxDB
store, and the self-check and the live view read the sessions back by running the
dashboards' own sessions query (dashboards/influxdb/, as Grafana sends it).
liveanalytics: Timestream in moto server. moto answers no query, so the self-check reads
moto's internal data and the live view shows the records the writer was handed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from dashboards.build import SESSIONS_DASHBOARD, SESSIONS_PANEL
from runtime.events import MOVED_STATE
from runtime.local.dashboard_queries import DashboardQueries
from runtime.local.influxdb import InfluxServer, start_influxdb
from runtime.local.moto_server import MotoServer
from runtime.local.parts import Part
from runtime.local.resources import RegionResources
from runtime.session_writer.influxdb import InfluxStore
from runtime.session_writer.records import INFLUX_VERSION_FIELD, MEASURES, timestream_value, typed_measures
from runtime.session_writer.settings import Engine
from runtime.session_writer.store import SessionRecordStore
from runtime.session_writer.timestream import TimestreamStore

# The sessions query's window around now: session rows carry their record's update time.
QUERY_MARGIN_MS: Final = 6 * 3_600_000


@dataclass(frozen=True)
class StoredRow:
    session_id: str
    version: int
    measures: dict[str, tuple[str, str]]  # name -> (value, Timestream type), as timestream_row writes them
    database: str = ""  # the region's database that holds it

    @property
    def final(self) -> bool:
        return self.measures.get("final", ("false", ""))[0] == "true"

    @property
    def moved(self) -> bool:
        """A region's part of a session whose whole record is another region's (runtime/reconciler)."""
        return self.measures.get("state", ("", ""))[0] == MOVED_STATE


class LocalStore(Protocol):
    engine: Engine

    def writer_store(self, resources: RegionResources) -> SessionRecordStore:
        """What the region's session writer writes through."""
        ...

    def stored_rows(self) -> list[StoredRow]:
        """The session rows the store serves (at least each session's newest)."""
        ...

    def newest_sessions(self) -> list[dict[str, Any]] | None:
        """Each session's newest row as session record fields; None when the store answers no query."""
        ...

    def parts(self) -> list[Part]:
        """The processes it runs (none when it lives in another stand-in)."""
        ...

    def stop(self) -> None: ...


class MotoTimestream:
    engine: Engine = "liveanalytics"

    def __init__(self, moto: MotoServer) -> None:
        self.moto = moto
        self.databases: set[str] = set()

    def writer_store(self, resources: RegionResources) -> SessionRecordStore:
        self.databases.add(resources.database)
        client = self.moto.client("timestream-write", resources.region.name)
        return TimestreamStore(client, resources.database, resources.table)

    def stored_rows(self) -> list[StoredRow]:
        """Every row moto holds for the run's databases, every version of it (moto's internal data)."""
        tables = self.moto.state().get("timestreamwrite", {}).get("TimestreamTable", [])
        rows = []
        for table in (t for t in tables if t["db_name"] in self.databases):
            for row in table["records"]:
                session_id = next(d["Value"] for d in row["Dimensions"] if d["Name"] == "session_id")
                measures = {m["Name"]: (m["Value"], m["Type"]) for m in row["MeasureValues"]}
                rows.append(StoredRow(session_id, row["Version"], measures, table["db_name"]))
        return rows

    def newest_sessions(self) -> list[dict[str, Any]] | None:
        return None

    def parts(self) -> list[Part]:
        return []  # moto server is the run's

    def stop(self) -> None:
        pass


class LocalInfluxDB:
    engine: Engine = "influxdb"

    def __init__(self, data_dir: Path, log_dir: Path) -> None:
        self.server: InfluxServer = start_influxdb(data_dir, log_dir)
        self.databases: list[str] = []
        self.queries = DashboardQueries.load(SESSIONS_DASHBOARD)

    def writer_store(self, resources: RegionResources) -> SessionRecordStore:
        self.server.query(f'CREATE DATABASE "{resources.database}"')
        self.databases.append(resources.database)
        return InfluxStore(self.server.url, resources.database)

    def _newest_rows(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(database, session id, row) of each session's newest row in each region's database."""
        now = int(time.time() * 1000)
        query = self.queries.query(SESSIONS_PANEL, now - QUERY_MARGIN_MS, now + QUERY_MARGIN_MS)
        rows = []
        for database in self.databases:
            for series in self.server.query(query, database):
                for values in series["values"]:
                    row = dict(zip(series["columns"], values, strict=True))
                    rows.append((database, series["tags"]["session_id"], row))
        return rows

    def stored_rows(self) -> list[StoredRow]:
        """Each session's newest row in each region's database, by the dashboards' sessions query."""
        return [StoredRow(sid, int(row[INFLUX_VERSION_FIELD]), stored_measures(row), database)
                for database, sid, row in self._newest_rows()]  # fmt: skip

    def newest_sessions(self) -> list[dict[str, Any]] | None:
        return [{field: row.get(name) for name, (field, _) in MEASURES.items()} for _, _, row in self._newest_rows()]

    def parts(self) -> list[Part]:
        return [self.server.part]

    def stop(self) -> None:
        self.server.stop()


def stored_measures(row: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """An InfluxDB row's fields as (value, Timestream type): the form the self-check compares."""
    fields = {field: row[name] for name, (field, _) in MEASURES.items() if row.get(name) is not None}
    return {name: (timestream_value(value), kind) for name, kind, value in typed_measures(fields)}


def newest_finals(rows: Sequence[StoredRow]) -> dict[str, dict[str, tuple[str, str]]]:
    """Session id -> measures of its newest final row."""
    best: dict[str, StoredRow] = {}
    for row in rows:
        if row.final and (row.session_id not in best or row.version > best[row.session_id].version):
            best[row.session_id] = row
    return {sid: row.measures for sid, row in best.items()}


def newest_not_final(rows: Sequence[StoredRow], sessions: set[str]) -> list[str]:
    """Sessions whose newest row (highest version: what the store serves) is not their final; of a
    session that moved between regions, the newest row that is not a moved row."""
    newest: dict[str, StoredRow] = {}
    for row in (r for r in rows if not r.moved):
        if row.session_id not in newest or row.version > newest[row.session_id].version:
            newest[row.session_id] = row
    return sorted(f"{sid}: the newest row (version {newest[sid].version}) is not final"
                  for sid in sessions if sid in newest and not newest[sid].final)  # fmt: skip


class NewestSessions:
    """Each session's newest row as the store answers the dashboards' sessions query, asked at most once
    a second; from a store that answers no query (moto's Timestream): the records handed to it."""

    def __init__(self, store: LocalStore, handed: Callable[[], list[dict[str, Any]]]) -> None:
        self.store = store
        self.handed = handed
        self._lock = threading.Lock()
        self._answer: tuple[float, list[dict[str, Any]]] = (float("-inf"), [])  # when asked, the answer

    def __call__(self) -> list[dict[str, Any]]:
        with self._lock:
            asked_at, answer = self._answer
            if time.monotonic() - asked_at >= 1.0:
                newest = self.store.newest_sessions()
                answer = newest if newest is not None else self.handed()
                self._answer = time.monotonic(), answer
            return answer
