"""What a dashboard panel shows, said once for every engine (timestream.py, influxql.py ask it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FigureName = Literal[
    "concurrent_plays",
    "starts",
    "startup",
    "rebuffer_ratio",
    "exits_and_failures",
    "errors_by_code",
    "rebuffer",
    "sessions",
]
# The dimensions a breakdown groups by: tags (InfluxDB) or dimensions (Timestream) the writer writes.
Dimension = Literal["region", "content_id", "device_type"]


@dataclass(frozen=True)
class Figure:
    name: FigureName
    dimension: Dimension | None = None  # a breakdown: one series (or row) per value


def filter_variable(name: str, label: str, datasource: dict[str, str], query: Any, **extra: Any) -> dict[str, Any]:
    """A dashboard filter: the values the store holds, several at once, all of them at first."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource,
        "query": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        **extra,
    }
