"""Session records in, Timestream rows or InfluxDB points out: plain functions, no AWS.

A Kinesis record of the session stream holds one session record (the sessionizer's
sink) or, when a producer aggregated, several (KPL format); each is a JSON object with
the fields of ``SESSION_RECORD_FIELDS``. Each becomes one multi-measure row:

- time: the record's ``updateTime`` (event time, ms): one row per point in the
  session's life, so a session is a time series of its progress;
- dimensions: environment, region, session_id, content_id, device_type, player.
  Timestream has no null dimension: a session without content, device or player
  metadata gets ``unknown``, so it still groups;
- measures (measure name ``session``): see MEASURES; a null metric (no startup yet,
  no bitrate known) is left out of the row rather than written as a fake value;
- Version: the record's ``version``, so a newer record for the same point replaces
  an older one and a replay of the same record changes nothing.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from runtime.events import RECENT_SESSION_RECORD_FIELDS, SESSION_RECORD_FIELDS
from runtime.kpl import deaggregate

MEASURE_NAME: Final = "session"
UNKNOWN: Final = "unknown"

# dimension name -> session record field
DIMENSIONS: Final = {
    "environment": "environment",
    "region": "region",
    "session_id": "sessionId",
    "content_id": "contentId",
    "device_type": "deviceType",
    "player": "player",
}
# measure name -> (session record field, Timestream type)
MEASURES: Final = {
    "state": ("state", "VARCHAR"),
    "end_reason": ("endReason", "VARCHAR"),
    "startup_ms": ("startupMs", "BIGINT"),
    "playing_ms": ("playingMs", "BIGINT"),
    "rebuffer_count": ("rebufferCount", "BIGINT"),
    "rebuffer_ms": ("rebufferMs", "BIGINT"),
    "rebuffer_ratio": ("rebufferRatio", "DOUBLE"),
    "seek_count": ("seekCount", "BIGINT"),
    "average_bitrate_kbps": ("averageBitrateKbps", "DOUBLE"),
    "bitrate_changes": ("bitrateChanges", "BIGINT"),
    "error_count": ("errorCount", "BIGINT"),
    "warning_count": ("warningCount", "BIGINT"),
    "last_error_code": ("lastErrorCode", "VARCHAR"),
    "ebvs": ("ebvs", "BOOLEAN"),
    "vsf": ("vsf", "BOOLEAN"),
    "playback_failure": ("playbackFailure", "BOOLEAN"),
    "final": ("final", "BOOLEAN"),
    "incomplete": ("incomplete", "BOOLEAN"),
}
_MAX_DIMENSION_VALUE = 2048  # Timestream's dimension value limit (bytes)


class MalformedRecord(ValueError):
    """A record that is not a session record; the message says why."""


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    version: int
    update_time_ms: int
    fields: Mapping[str, Any]


def parse_session_record(data: bytes) -> SessionRecord:
    try:
        document = json.loads(data)
    except ValueError as error:
        raise MalformedRecord(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedRecord(f"not a JSON object but {type(document).__name__}")
    missing = [
        name for name in SESSION_RECORD_FIELDS if name not in document and name not in RECENT_SESSION_RECORD_FIELDS
    ]
    if missing:
        raise MalformedRecord(f"missing field(s) {', '.join(missing)}")
    session_id, version, update_time = document["sessionId"], document["version"], document["updateTime"]
    if not isinstance(session_id, str) or not session_id:
        raise MalformedRecord("sessionId must be a non-empty string")
    for name, value in (("version", version), ("updateTime", update_time)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise MalformedRecord(f"{name} must be a whole number >= 0, got {value!r}")
    return SessionRecord(session_id, version, update_time, document)


def kinesis_session_records(record: Mapping[str, Any]) -> Iterator[SessionRecord]:
    """The session records of one Lambda Kinesis record ({"kinesis": {"data", "partitionKey"}})."""
    kinesis = record["kinesis"]
    try:
        data = base64.b64decode(kinesis["data"], validate=True)
    except ValueError as error:
        raise MalformedRecord(f"data is not base64: {error}") from None
    for _, user_record in deaggregate(data, kinesis.get("partitionKey", "")):
        yield parse_session_record(user_record)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _dimension_text(value: Any) -> str:
    """A dimension's value as text: ``unknown`` when there is none (no store has a null dimension)."""
    text = UNKNOWN if value is None or value == "" else _text(value)
    return text[:_MAX_DIMENSION_VALUE]


def typed_measures(fields: Mapping[str, Any]) -> Iterator[tuple[str, str, bool | int | float | str]]:
    """(measure name, Timestream type, value as that type) of each metric that is not null."""
    for name, (field, kind) in MEASURES.items():
        value = fields.get(field)
        if value is None:
            continue
        if kind == "BOOLEAN":
            yield name, kind, bool(value)
        elif kind == "BIGINT":
            yield name, kind, int(value)
        elif kind == "DOUBLE":
            yield name, kind, float(value)
        else:
            yield name, kind, _text(value)


def timestream_value(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def timestream_row(record: SessionRecord) -> dict[str, Any]:
    """The WriteRecords entry of one session record."""
    fields = record.fields
    dimensions = []
    for name, field in DIMENSIONS.items():
        dimensions.append({"Name": name, "Value": _dimension_text(fields.get(field)), "DimensionValueType": "VARCHAR"})
    measures = []
    for name, kind, value in typed_measures(fields):
        text = timestream_value(value)
        measures.append({"Name": name, "Value": text, "Type": kind})
    return {
        "Dimensions": dimensions,
        "MeasureName": MEASURE_NAME,
        "MeasureValueType": "MULTI",
        "MeasureValues": measures,
        "Time": str(record.update_time_ms),
        "TimeUnit": "MILLISECONDS",
        "Version": record.version,
    }


# InfluxDB (influxdb.py): one point per session record in this measurement, the dimensions
# as tags, the measures as typed fields, the version as a field, ``updateTime`` as its time.
INFLUX_MEASUREMENT: Final = "sessions"
INFLUX_VERSION_FIELD: Final = "version"
# One point per session that started playing, at the moment it did (first event time plus
# startup time, both fixed once known): "starts per minute" without finding each session's
# first such record, which InfluxQL cannot do per time window. Every record with a startup
# writes the same point again, which changes nothing.
INFLUX_STARTS_MEASUREMENT: Final = "session_starts"


def influx_tag(value: Any) -> str:
    """A dimension's value as InfluxDB stores the tag. Tags cannot carry every backslash (one
    before a separator escapes it) or a line break, so those become "/" and a space."""
    return _dimension_text(value).replace("\\", "/").replace("\n", " ")


def _escaped_tag(text: str) -> str:
    return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _string_field(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def influx_lines(record: SessionRecord) -> list[bytes]:
    """The line protocol points of one session record (timestamps in ms: write with precision=ms):
    its ``sessions`` point and, once it has a startup time, its ``session_starts`` point.

    Tags are sorted by key (what InfluxDB stores anyway) and never empty (``unknown``, as
    for Timestream); a null or non-finite metric is left out rather than written as a fake value.
    """
    fields = record.fields
    tags = ",".join(
        f"{name}={_escaped_tag(influx_tag(fields.get(field)))}" for name, field in sorted(DIMENSIONS.items())
    )
    values = []
    for name, _, value in typed_measures(fields):
        if isinstance(value, bool):
            values.append(f"{name}={'true' if value else 'false'}")
        elif isinstance(value, int):
            values.append(f"{name}={value}i")
        elif isinstance(value, float):
            if math.isfinite(value):
                values.append(f"{name}={value!r}")
        else:
            values.append(f"{name}={_string_field(value)}")
    values.append(f"{INFLUX_VERSION_FIELD}={record.version}i")
    lines = [f"{INFLUX_MEASUREMENT},{tags} {','.join(values)} {record.update_time_ms}".encode()]
    startup, first_event = fields.get("startupMs"), fields.get("firstEventTime")
    if isinstance(startup, int) and isinstance(first_event, int):
        lines.append(f"{INFLUX_STARTS_MEASUREMENT},{tags} startup_ms={startup}i {first_event + startup}".encode())
    return lines
