"""One session across out-of-order arrival: buffering, sealing by watermark, records, late events.

Events arrive in any order. An event joins the session's *pending* list; once the
watermark minus the allowed lateness (the *horizon*) passes its timestamp, no earlier
event can still arrive on time, so it is *sealed*: applied to the Playback state
machine in timestamp order. An update record looks ahead: the sealed state plus the
pending events, on a copy. The result is exact for every event within the lateness.

- Late: an event whose timestamp is behind the horizon when it arrives, or that
  arrives for a session already finalised, is not applied: it goes to the late stream
  with the reason (never dropped).
- Final: once the horizon passes the session's ``stopped``/``error``, or passes its
  last event by the inactivity gap (a timeout), the final record is emitted and the
  session's state shrinks to a tombstone, kept for ``tombstone_ms`` of event time so
  stragglers are told apart as ``session_finalised``.
- Records carry a version that increases with every record of the session, and an
  ``updateTime`` that is the session's last event time: a record for the same point
  in the session's life replaces the previous one (higher version), and replaying the
  same input gives the same records.
- The version counts the session's progress, not its records: twice the events taken,
  plus one for the final. Update records come when the update timer (processing time)
  fires, so a job restored from a checkpoint emits them at other moments than the job
  that died, and the records the dead job sent after its checkpoint are already in the
  store. Counted by progress, a record of the restored job with the same version is the
  same record, and its final is still the session's highest version.
- Duplicates (same event name and timestamp) count once. Only pending events need
  their keys remembered: a copy of a sealed event is behind the horizon, so it is late.
- Events at the same millisecond are applied in the order a player emits them
  (``event_order``), so the result never depends on which arrived first.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Final

from runtime.events import SESSION_RECORD_FIELDS
from runtime.sessionizer.metrics import LateReason
from runtime.sessionizer.playback import ENDING_EVENTS, Event, Playback

NO_WATERMARK = -(2**63)  # Flink's Long.MIN_VALUE: nothing seen yet


@dataclass(frozen=True)
class SessionSettings:
    environment: str
    region: str
    allowed_lateness_ms: int
    inactivity_gap_ms: int
    update_interval_ms: int
    tombstone_ms: int = 3_600_000


TRACKER_STATE: Final = ("session_id", "playback", "pending", "version", "changed", "final", "finalised_at_ms",
                        "end_check_ms", "sealed_until_ms", "events_taken")  # fmt: skip


@dataclass(slots=True)
class Tracker:
    """Everything the job keeps per session (in Flink keyed state)."""

    session_id: str
    playback: Playback = field(default_factory=Playback)
    pending: list[Event] = field(default_factory=list)
    pending_keys: set[tuple[str, int]] = field(default_factory=set)
    version: int = 0
    changed: bool = False  # since the last record
    final: bool = False
    finalised_at_ms: int | None = None  # event time of the end, kept in the tombstone
    # The time of the end check the job has set for this session and not yet done (end_check_time).
    end_check_ms: int | None = None
    # How far this session has sealed. Flink does not checkpoint watermarks: after a restore the
    # watermark starts again from nothing, and without this an event that was too late before
    # the restart would be taken (and applied behind events already sealed).
    sealed_until_ms: int = NO_WATERMARK
    events_taken: int = 0  # distinct events accepted: the progress the version counts
    # Processing time of the session's last record, for the job to space its updates by the update
    # interval (0: none yet). Not in TRACKER_STATE: version 2 did not keep it.
    last_record_ms: int = 0

    # The Tracker pickled whole, values only (TRACKER_STATE): how state version 2 stored it, still read
    # (stored.py); the duplicate keys follow from the pending events.
    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in TRACKER_STATE)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(TRACKER_STATE, state, strict=True):
            setattr(self, name, value)
        self.pending_keys = {event.key for event in self.pending}
        self.last_record_ms = 0

    # -- events ------------------------------------------------------------------

    def accept(self, event: Event, watermark: int, settings: SessionSettings) -> LateReason | None:
        """Take an event; returns the late reason if it cannot be applied, else None."""
        if self.final:
            return "session_finalised"
        if event.timestamp < max(horizon(watermark, settings), self.sealed_until_ms):
            return "behind_watermark"
        if event.key in self.pending_keys:
            return None  # a duplicate: counted once already
        bisect.insort(self.pending, event, key=event_order)
        self.pending_keys.add(event.key)
        self.events_taken += 1
        self.changed = True
        return None

    def advance(self, watermark: int, settings: SessionSettings) -> bool:
        """Seal what the horizon has passed; True when the session just became final."""
        if self.final:
            return False
        limit = max(horizon(watermark, settings), self.sealed_until_ms)
        self.sealed_until_ms = limit
        while self.pending and self.pending[0].timestamp < limit:
            event = self.pending.pop(0)
            self.pending_keys.discard(event.key)
            self.playback.apply(event)
        last = self.playback.last_event_ms
        silent = last is not None and last + settings.inactivity_gap_ms <= limit
        if silent and not self.pending and not self.playback.ended:
            self.playback.time_out()
        if self.playback.ended:
            self.final = True
            self.finalised_at_ms = self.playback.last_event_ms
            self.changed = True
            return True
        return False

    # -- records -----------------------------------------------------------------

    def record(self, settings: SessionSettings) -> dict[str, Any]:
        """The next record of this session (final when the session is), with a new version."""
        view = self.playback.copy()  # the metrics close open intervals: on a copy
        if not self.final:
            for event in self.pending:
                view.apply(event)
        self.version = max(self.version + 1, progress_version(self.events_taken, self.final))
        self.changed = False
        metrics = view.metrics(in_place=True)
        values = {
            "sessionId": self.session_id,
            "environment": settings.environment,
            "region": settings.region,
            "version": self.version,
            "final": self.final,
            "updateTime": metrics["lastEventTime"],
            **metrics,
        }
        return {name: values[name] for name in SESSION_RECORD_FIELDS}  # the contract's fields, in its order

    def to_tombstone(self) -> None:
        """After the final record only the fact that the session ended is kept."""
        self.playback = Playback()
        self.pending.clear()
        self.pending_keys.clear()

    def end_check_time(self, settings: SessionSettings) -> int | None:
        """Event time from which advance() can end the session (for a timer): the horizon past
        its first pending end event, or past its newest event by the inactivity gap.

        Sealing alone needs no timer: what an event-time timer would seal, the session's next
        event seals (the job advances at every event), and an update record looks ahead at
        pending events anyway. Only the end must come without an event, and one timer per
        session that moves ahead with its events, instead of one per event, is what lets the
        job spend its time on events (bench/sessionizer.py).
        """
        if self.final:
            return None
        newest = self.playback.last_event_ms
        for event in self.pending:
            if event.name in ENDING_EVENTS:  # sealed once the horizon is past it
                return event.timestamp + settings.allowed_lateness_ms + 1
        if self.pending:
            newest = self.pending[-1].timestamp if newest is None else max(self.pending[-1].timestamp, newest)
        if newest is None:
            return None
        return newest + settings.inactivity_gap_ms + settings.allowed_lateness_ms


def progress_version(events_taken: int, final: bool) -> int:
    """A record's version from the session's progress: the same events give the same version,
    more events a higher one, and the final the highest."""
    return 2 * events_taken + (1 if final else 0)


def next_update_time(now_ms: int, settings: SessionSettings) -> int:
    """The next update timer: the next point of a grid of the update interval, so registering it
    again (a timer lost with a snapshot) lands on the same time as one that exists."""
    return (now_ms // settings.update_interval_ms + 1) * settings.update_interval_ms


# The order a player emits events in, for events of one session at the same millisecond.
_LIFECYCLE_RANK = {
    name: rank
    for rank, name in enumerate(
        ("init", "loading", "loaded", "metadata", "bitrate_changed", "playing", "resume", "buffering", "buffered",
         "seeking", "seeked", "paused", "heartbeat", "warning", "error", "stopped")
    )
}  # fmt: skip


def event_order(event: Event) -> tuple[int, int, str]:
    return (event.timestamp, _LIFECYCLE_RANK.get(event.name, len(_LIFECYCLE_RANK)), event.name)


def horizon(watermark: int, settings: SessionSettings) -> int:
    return NO_WATERMARK if watermark == NO_WATERMARK else watermark - settings.allowed_lateness_ms


def late_record(
    reason: LateReason, watermark: int, processing_time_ms: int, session_id: str | None, raw: Any
) -> dict[str, Any]:
    """The late stream's wrapper around an event, unchanged inside."""
    return {
        "reason": reason,
        "watermark": None if watermark == NO_WATERMARK else watermark,
        "processingTime": processing_time_ms,
        "sessionId": session_id,
        "event": raw,
    }
