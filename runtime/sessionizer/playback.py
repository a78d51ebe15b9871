"""The QoE state machine of one playback session: EPAS events in event-time order in, metrics out.

Plain Python, no Flink: ``Playback.apply`` takes events already sorted by their
timestamps (session.py does the sorting and the watermark bookkeeping), and every
metric follows docs/qoe-metrics.md. Where the definitions leave a case
open, this module decides, and the tests hold it to the decision:

- Play attempt: the first ``loading``; without one, ``init``. A session seen only from
  the middle (neither: its player moved from another region mid-play, or its first
  events were lost) has no startup time, and whether its video started is unknown: it is
  neither an exit before video start nor a video start failure.
- Buffering before the first ``playing`` is part of startup, not a rebuffer.
- A rebuffer is a ``buffering`` after the first ``playing`` while the player was playing
  (not paused, not seeking). It ends with ``buffered``, ``playing``/``resume``,
  ``seeking`` (the user gave up waiting and moved), ``paused``, or the end of the
  session; ``buffered`` then returns to the state the player was in before.
- ``seeked`` resumes playing only if the player was playing when ``seeking`` came;
  a seek from pause returns to pause. Buffering while seeking is seek time.
- Playing time ends at ``paused``, ``buffering``, ``seeking``, ``stopped``, ``error``,
  a bitrate change (it restarts at once, at the new bitrate) or, for a session that
  times out, at its last event: nothing shows the player played after it.
- Average bitrate: ``bitrate_changed`` values weighted by the playing time at each;
  playing time before the first known bitrate is not in the average. A bitrate change
  counts when it moves from one known value to another.
- ``error`` is fatal (EPAS): the session ends failed; ``warning`` only counts.
- Events after the session ended (``stopped``/``error``) change nothing.
- Player: the first product token of the user agent (``prism-web/3.1 (...)`` -> ``prism-web/3.1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from runtime.events import SERVER_FIELD


@dataclass(frozen=True, slots=True)
class Event:
    """The part of a raw event the session state machine reads."""

    name: str
    timestamp: int
    session_id: str
    payload: Mapping[str, Any] | None = None
    user_agent: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """Duplicates (same session, event and timestamp) count once."""
        return (self.name, self.timestamp)

    @classmethod
    def from_raw(cls, document: Mapping[str, Any]) -> Event:
        server = document.get(SERVER_FIELD) or {}
        return cls(
            name=str(document["event"]),
            timestamp=int(document["timestamp"]),
            session_id=str(document["sessionId"]),
            payload=document.get("payload"),
            user_agent=str(server.get("userAgent", "")),
        )


@dataclass(slots=True)
class Playback:
    """Accumulated metrics of one session. Mutable; copy() before a provisional look ahead."""

    state: str = "starting"
    first_event_ms: int | None = None
    last_event_ms: int | None = None
    attempt_ms: int | None = None
    attempt_from_loading: bool = False
    first_playing_ms: int | None = None
    playing_ms: int = 0
    playing_since: int | None = None
    rebuffer_count: int = 0
    rebuffer_ms: int = 0
    rebuffer_since: int | None = None
    state_before_buffering: str = "playing"
    seek_count: int = 0
    state_before_seek: str | None = None  # set while seeking
    bitrate_kbps: float | None = None
    bitrate_changes: int = 0
    bitrate_weighted: float = 0.0  # kbps x ms
    bitrate_ms: int = 0  # playing ms at a known bitrate
    error_count: int = 0
    warning_count: int = 0
    last_error_code: str | None = None
    fatal_error: bool = False
    end_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    player: str | None = None

    def copy(self) -> Playback:
        # From its values, positionally: dataclasses.replace was a fifth of an update record's time.
        copied = Playback(*self.__getstate__())
        copied.metadata = dict(self.metadata)
        return copied

    # Values only, no field names, in PLAYBACK_STATE's order: how the sessionizer stores a Playback.
    def __getstate__(self) -> tuple[Any, ...]:
        values: tuple[Any, ...] = _PLAYBACK_VALUES(self)
        return values

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(PLAYBACK_STATE, state, strict=True):
            setattr(self, name, value)

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    # -- transitions -------------------------------------------------------------

    def apply(self, event: Event) -> None:
        t = event.timestamp
        if self.first_event_ms is None:
            self.first_event_ms = t
        if self.ended:
            return
        self.last_event_ms = t if self.last_event_ms is None else max(self.last_event_ms, t)
        if self.player is None and event.user_agent:
            self.player = event.user_agent.split(" ", 1)[0][:64]
        handler = _HANDLERS.get(event.name)
        if handler is not None:
            handler(self, event)

    def time_out(self) -> None:
        """No event for the inactivity gap: the session ended at its last event."""
        if self.ended:
            return
        self._close_intervals(self.last_event_ms if self.last_event_ms is not None else 0)
        self.state = "ended"
        self.end_reason = "timeout"

    def _init(self, event: Event) -> None:
        if self.attempt_ms is None:
            self.attempt_ms = event.timestamp

    def _loading(self, event: Event) -> None:
        if not self.attempt_from_loading:
            self.attempt_ms = event.timestamp
            self.attempt_from_loading = True

    def _metadata(self, event: Event) -> None:
        for key, value in (event.payload or {}).items():
            if value is not None:
                self.metadata[key] = value

    def _playing(self, event: Event) -> None:
        t = event.timestamp
        if self.first_playing_ms is None:
            self.first_playing_ms = t
        self._end_rebuffer(t)
        self.state_before_seek = None
        self._start_playing(t)
        self.state = "playing"

    def _paused(self, event: Event) -> None:
        self._close_intervals(event.timestamp)
        self.state_before_seek = None
        self.state = "paused"

    def _buffering(self, event: Event) -> None:
        t = event.timestamp
        if self.state_before_seek is not None or self.first_playing_ms is None:
            return  # seek time, or startup
        if self.state != "playing":
            return  # buffering while paused is nothing the viewer waits for
        self._stop_playing(t)
        self.rebuffer_count += 1
        self.rebuffer_since = t
        self.state_before_buffering = "playing"
        self.state = "buffering"

    def _buffered(self, event: Event) -> None:
        t = event.timestamp
        if self.rebuffer_since is None:
            return
        self._end_rebuffer(t)
        if self.state_before_buffering == "playing":
            self._start_playing(t)
        self.state = self.state_before_buffering

    def _seeking(self, event: Event) -> None:
        t = event.timestamp
        if self.state_before_seek is not None:
            return  # still the same seek
        before = "playing" if self.state in ("playing", "buffering") else self.state
        self._close_intervals(t)
        self.seek_count += 1
        self.state_before_seek = before
        self.state = "seeking"

    def _seeked(self, event: Event) -> None:
        t = event.timestamp
        before, self.state_before_seek = self.state_before_seek, None
        if before is None:
            return
        if before == "playing":
            self._start_playing(t)
        self.state = before

    def _bitrate_changed(self, event: Event) -> None:
        bitrate = float((event.payload or {}).get("bitrate", 0.0))
        if self.playing_since is not None:
            self._stop_playing(event.timestamp)
            self.playing_since = event.timestamp
        if self.bitrate_kbps is not None and bitrate != self.bitrate_kbps:
            self.bitrate_changes += 1
        self.bitrate_kbps = bitrate

    def _warning(self, _: Event) -> None:
        self.warning_count += 1

    def _error(self, event: Event) -> None:
        self.error_count += 1
        code = (event.payload or {}).get("code")
        self.last_error_code = None if code is None else str(code)
        self._close_intervals(event.timestamp)
        self.fatal_error = True
        self.state = "failed"
        self.end_reason = "error"

    def _stopped(self, event: Event) -> None:
        self._close_intervals(event.timestamp)
        self.state = "ended"
        self.end_reason = str((event.payload or {}).get("reason", "unknown"))

    # -- intervals ---------------------------------------------------------------

    def _start_playing(self, t: int) -> None:
        if self.playing_since is None:
            self.playing_since = t

    def _stop_playing(self, t: int) -> None:
        if self.playing_since is None:
            return
        duration = max(0, t - self.playing_since)
        self.playing_ms += duration
        if self.bitrate_kbps is not None:
            self.bitrate_weighted += self.bitrate_kbps * duration
            self.bitrate_ms += duration
        self.playing_since = None

    def _end_rebuffer(self, t: int) -> None:
        if self.rebuffer_since is not None:
            self.rebuffer_ms += max(0, t - self.rebuffer_since)
            self.rebuffer_since = None

    def _close_intervals(self, t: int) -> None:
        self._stop_playing(t)
        self._end_rebuffer(t)

    # -- metrics -----------------------------------------------------------------

    def metrics(self, in_place: bool = False) -> dict[str, Any]:
        """The metrics as of the last event; open intervals count up to it (closed on a copy, or on
        this Playback when it is itself a throwaway copy: ``in_place``)."""
        view = self if in_place else self.copy()
        if not view.ended and view.last_event_ms is not None:
            view._close_intervals(view.last_event_ms)
        played, rebuffered = view.playing_ms, view.rebuffer_ms
        startup = (
            view.first_playing_ms - view.attempt_ms
            if view.first_playing_ms is not None and view.attempt_ms is not None
            else None
        )
        no_play = view.first_playing_ms is None
        judged = view.attempt_ms is not None  # a start is judged only where its play attempt was seen
        meta = view.metadata
        return {
            "state": view.state,
            "endReason": view.end_reason,
            "incomplete": not judged,  # its start was not seen: metrics of what was
            "firstEventTime": view.first_event_ms,
            "lastEventTime": view.last_event_ms,
            "startupMs": max(0, startup) if startup is not None else None,
            "playingMs": played,
            "rebufferCount": view.rebuffer_count,
            "rebufferMs": rebuffered,
            "rebufferRatio": rebuffered / (played + rebuffered) if played + rebuffered else 0.0,
            "seekCount": view.seek_count,
            "ebvs": judged and view.ended and no_play and not view.fatal_error,
            "vsf": judged and view.fatal_error and no_play,
            "playbackFailure": view.fatal_error,
            "errorCount": view.error_count,
            "warningCount": view.warning_count,
            "lastErrorCode": view.last_error_code,
            "averageBitrateKbps": view.bitrate_weighted / view.bitrate_ms if view.bitrate_ms else None,
            "bitrateChanges": view.bitrate_changes,
            "contentId": meta.get("contentId"),
            "contentTitle": meta.get("contentTitle"),
            "live": meta.get("live"),
            "deviceType": meta.get("deviceType"),
            "deviceModel": meta.get("deviceModel"),
            "player": view.player,
        }


# Pickled into Flink state as values in this order: part of the state layout (state_layout.py).
PLAYBACK_STATE = tuple(f.name for f in fields(Playback))
_PLAYBACK_VALUES = attrgetter(*PLAYBACK_STATE)

_HANDLERS = {
    "init": Playback._init,
    "loading": Playback._loading,
    "metadata": Playback._metadata,
    "playing": Playback._playing,
    "resume": Playback._playing,
    "paused": Playback._paused,
    "buffering": Playback._buffering,
    "buffered": Playback._buffered,
    "seeking": Playback._seeking,
    "seeked": Playback._seeked,
    "bitrate_changed": Playback._bitrate_changed,
    "warning": Playback._warning,
    "error": Playback._error,
    "stopped": Playback._stopped,
}

# The events whose handler ends the session (_error, _stopped): the sessionizer sets its end timer by them.
ENDING_EVENTS = frozenset({"error", "stopped"})
# The events whose handler reads the payload (_metadata, _bitrate_changed, _error, _stopped): of any
# other event only the name, the time and the user agent count, so the sessionizer keeps no more of it.
PAYLOAD_EVENTS = frozenset({"metadata", "bitrate_changed", "error", "stopped"})
