"""The stored form of a session's Tracker in Flink state: small, quick to read and write, and versioned.

Every event a session takes and every record it emits writes its Tracker back to state, and the
Python worker keeps the stored form of every open session of its buckets (PyFlink's state cache).
So the form is what memory per open session and the worker's time per event come from
(bench/sessionizer_state.py): before state version 3 the job stored the Tracker object pickled by
PyFlink (cloudpickle, class references, every pending event an object carrying its session id and
user agent) and the cache held the objects, which were most of the worker's memory and time at a
production audience (docs/performance.md, "Sessionizer with a real audience in state").

Version 3, the form written now:

    byte 0   STORED_FORMAT (3)
    byte 1   flags: FINAL and CHANGED, read without decoding the rest (job.py's index of the open
             and changed sessions of a bucket, rebuilt from state after a restore)
    rest     a pickle (protocol 4) of plain values in STORED_FIELDS' order: no class references,
             the playback's values in PLAYBACK_STATE's order (None for a tombstone, kept an hour
             after its session ended), the pending events in order, each as PENDING_FIELDS with
             its time as the step from the previous one's (the first's from 0), or, for a
             heartbeat with nothing else to keep, as that step alone; the session id is the
             map's key, not repeated here

Of a pending event only what the state machine will read is kept: its payload only for the
events whose handler reads one (PAYLOAD_EVENTS), its user agent only while the session has no
player yet (the player is taken from the first event that has one, so later ones change nothing).
Most pending events are heartbeats: a few bytes each.

The map's values are typed as pickled (as in version 2, so a snapshot's serializer is the same),
and PyFlink pickles these bytes whole: about a microsecond a write. Version 2 stored the Tracker
object there; reading takes both, so a job of this version restores a snapshot of version 2 as it
stands.
"""

from __future__ import annotations

import pickle
from typing import Any, Final

from runtime.sessionizer.playback import PAYLOAD_EVENTS, Event, Playback
from runtime.sessionizer.session import Tracker

STORED_FORMAT: Final = 3
FINAL: Final = 1
CHANGED: Final = 2
STORED_FIELDS: Final = ("playback", "pending", "version", "finalised_at_ms", "end_check_ms", "sealed_until_ms",
                        "events_taken", "last_record_ms")  # fmt: skip
PENDING_FIELDS: Final = ("name", "step from the previous", "payload", "user_agent")
HEARTBEAT: Final = "heartbeat"
_PICKLE_PROTOCOL: Final = 4  # fixed, so the stored bytes do not change with the interpreter's default
_NOTHING_PLAYED: Final = Playback()  # a tombstone's playback (and a new session's): stored as None


def encode(tracker: Tracker) -> bytes:
    """The Tracker's stored form (its session id is the key it is stored under)."""
    playback = tracker.playback
    values = (
        None if playback == _NOTHING_PLAYED else playback.__getstate__(),
        _pending(tracker.pending, keep_agent=playback.player is None),
        tracker.version,
        tracker.finalised_at_ms,
        tracker.end_check_ms,
        tracker.sealed_until_ms,
        tracker.events_taken,
        tracker.last_record_ms,
    )
    flag_bits = (FINAL if tracker.final else 0) | (CHANGED if tracker.changed else 0)
    return bytes((STORED_FORMAT, flag_bits)) + pickle.dumps(values, protocol=_PICKLE_PROTOCOL)


def decode(session_id: str, stored: bytes | Tracker) -> Tracker:
    """The Tracker stored under ``session_id``, from either form (version 2's: the Tracker itself)."""
    if isinstance(stored, Tracker):
        return stored
    if stored[0] != STORED_FORMAT:
        raise ValueError(f"session {session_id!r}: stored form {stored[0]} is not one this job reads")
    values: tuple[Any, ...] = pickle.loads(memoryview(stored)[2:])
    state, pending, version, finalised_at_ms, end_check_ms, sealed_until_ms, events_taken, last_record_ms = values
    playback = Playback() if state is None else Playback(*state)
    events, timestamp = [], 0
    for entry in pending:
        if isinstance(entry, int):
            timestamp += entry
            events.append(Event(HEARTBEAT, timestamp, session_id))
        else:
            name, step, payload, agent = entry
            timestamp += step
            events.append(Event(name, timestamp, session_id, payload, agent))
    flag_bits = stored[1]
    return Tracker(
        session_id,
        playback=playback,
        pending=events,
        pending_keys={event.key for event in events},
        version=version,
        changed=bool(flag_bits & CHANGED),
        final=bool(flag_bits & FINAL),
        finalised_at_ms=finalised_at_ms,
        end_check_ms=end_check_ms,
        sealed_until_ms=sealed_until_ms,
        events_taken=events_taken,
        last_record_ms=last_record_ms,
    )


def _pending(events: list[Event], keep_agent: bool) -> tuple[Any, ...]:
    entries: list[Any] = []
    previous = 0
    for event in events:
        step, previous = event.timestamp - previous, event.timestamp
        agent = event.user_agent if keep_agent else ""
        if event.name == HEARTBEAT and not agent:
            entries.append(step)
        else:
            entries.append((event.name, step, event.payload if event.name in PAYLOAD_EVENTS else None, agent))
    return tuple(entries)


def flags(stored: bytes | Tracker) -> tuple[bool, bool]:
    """(final, changed) of a stored Tracker, without decoding it."""
    if isinstance(stored, Tracker):
        return stored.final, stored.changed
    return bool(stored[1] & FINAL), bool(stored[1] & CHANGED)
