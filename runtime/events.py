"""The event contract shared by every runtime package.

Players speak EPAS (docs/events.md, the event contract). The ingest service validates an
event, keeps its declared fields and adds what only the server knows; the result, one
JSON object per event, is a *raw event*: the user record in the raw stream's KPL
aggregated records, and one line in the raw bucket.

    {"event": "playing", "sessionId": "...", "timestamp": 1732400000000,
     "playhead": 12.5, "duration": 3600, "payload": {...},       # the client's EPAS event
     "eventId": "...",                                           # the client's, else the server's
     "server": {"receivedAt": 1732400000123, "region": "us-east-1",
                "clientIp": "203.0.113.7", "userAgent": "..."}}

This module is plain Python so the sessionizer's and session writer's environments
can import it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

EventName = Literal[
    "init", "metadata", "heartbeat", "loading", "loaded", "playing", "paused", "resume",
    "buffering", "buffered", "seeking", "seeked", "bitrate_changed", "stopped", "error", "warning",
]  # fmt: skip
EVENT_NAMES: Final = frozenset(EventName.__args__)  # type: ignore[attr-defined]

StopReason = Literal["ended", "aborted", "error", "unknown"]
STOP_REASONS: Final = frozenset(StopReason.__args__)  # type: ignore[attr-defined]

# The partition key of every raw event: all events of a session go to one shard.
PARTITION_KEY_FIELD: Final = "sessionId"
SERVER_FIELD: Final = "server"
# Inside SERVER_FIELD: when the ingest service received the event, epoch ms of the server's clock.
RECEIVED_AT_FIELD: Final = "receivedAt"
EVENT_ID_FIELD: Final = "eventId"

# -- session records ----------------------------------------------------------
# What the sessionizer writes to the session stream, one JSON object per record, and
# the session writer reads. Times are epoch milliseconds of the client clock (event
# time); durations are milliseconds.

# "moved": a region's part of a session whose whole record another region holds (runtime/reconciler).
SessionState = Literal["starting", "playing", "paused", "buffering", "seeking", "ended", "failed", "moved"]
MOVED_STATE: Final = "moved"
EndReason = Literal["ended", "aborted", "error", "unknown", "timeout"]

SESSION_RECORD_FIELDS: Final = (
    "sessionId", "environment", "region", "version", "final", "state", "endReason", "incomplete",
    "firstEventTime", "lastEventTime", "updateTime",
    "startupMs", "playingMs", "rebufferCount", "rebufferMs", "rebufferRatio", "seekCount",
    "ebvs", "vsf", "playbackFailure", "errorCount", "warningCount", "lastErrorCode",
    "averageBitrateKbps", "bitrateChanges",
    "contentId", "contentTitle", "live", "deviceType", "deviceModel", "player",
)  # fmt: skip

# Fields added to the contract in this release. A session writer accepts records without them until the
# next one: a sessionizer deployed before the writer (or records already in the stream) still lacks them.
RECENT_SESSION_RECORD_FIELDS: Final = frozenset({"incomplete"})

# Why an event went to the late stream instead of a session.
LateReason = Literal["behind_watermark", "session_finalised", "unparseable"]
LATE_RECORD_FIELDS: Final = ("reason", "watermark", "processingTime", "sessionId", "event")


def received_at(document: Mapping[str, Any]) -> int | None:
    """When the ingest service received a raw event (epoch ms of its clock), if the event says."""
    server = document.get(SERVER_FIELD)
    # type() first: the replay reads every event through here, and an ABC isinstance costs more than the rest.
    received = server.get(RECEIVED_AT_FIELD) if type(server) is dict or isinstance(server, Mapping) else None
    return received if type(received) is int and received > 0 else None  # a JSON true is not a time
