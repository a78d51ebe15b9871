"""The traffic profile of one viewer, measured on the player simulator's sessions (prints figures).

Run: `make bench-traffic`. The simulator's players (runtime/local/simulator.py) write the
sessions the local pipeline is tested with; here the same scripts are played at a real
player's pace (one heartbeat per interval, as the ingest service's ``init`` answer tells)
and measured without a clock or a network:

- events per heartbeat interval while playing, by kind (the heartbeat itself, rebuffers,
  seeks, pauses, bitrate switches, fatal errors), and events per session outside those
  intervals (``init``, ``metadata``, ``loading``, the start, the end);
- the size of an event as a player posts it (EPAS JSON, a UUID session id), of the session
  record the sessionizer writes, and of a session's tracker in the job's state;
- how well a Firehose object of each compresses (GZIP, as the stacks deliver).

Session length is not measured here: a local run compresses sessions to seconds. The
capacity model takes it from the stack (``capacity.profile.sessionMinutes``).
"""

from __future__ import annotations

import argparse
import gzip
import inspect
import json
import pickle
import random
import uuid
from collections import Counter
from typing import Any

from bench.results import Figure, add_reference_option, record
from runtime.local.simulator import END_OF_TIME, PlayerSimulator, Timing, session_script
from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import NO_WATERMARK, SessionSettings, Tracker

HEARTBEAT_MS = 5_000  # what the ingest service answers to init by default (and the EPAS reference sink)
PLAYING_MS = (600_000, 3_600_000)  # long enough that the start and the end are a small part of a session
SETTINGS = SessionSettings("bench", "us-east-1", allowed_lateness_ms=30_000, inactivity_gap_ms=30_000,
                           update_interval_ms=10_000)  # fmt: skip
OUT_OF_ORDERNESS_MS = 2_000
PER_SESSION_KINDS = ("init", "metadata", "loading", "playing", "stopped")


def documents(rng: random.Random, start_ms: int) -> list[dict[str, Any]]:
    """One session's events as the player posts them (runtime/local/simulator.py builds the same)."""
    session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    timing = Timing(heartbeat_ms=HEARTBEAT_MS, session_ms=PLAYING_MS)
    events = []
    for step in session_script(rng, timing):
        document: dict[str, Any] = {"event": step.name, "sessionId": session_id, "timestamp": start_ms + step.at_ms,
                                    "playhead": step.at_ms / 1000, "duration": 3600}  # fmt: skip
        if step.payload is not None:
            document["payload"] = step.payload
        events.append(document)
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    add_reference_option(parser)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    kinds: Counter[str] = Counter()
    heartbeats = started = 0
    event_bytes: list[int] = []
    record_bytes: list[int] = []
    tracker_bytes: list[int] = []
    raw_lines: list[bytes] = []
    session_lines: list[bytes] = []
    for number in range(args.sessions):
        events = documents(rng, 1_764_000_000_000 + number * 10_000_000)
        tracker = Tracker(events[0]["sessionId"])
        for index, document in enumerate(events):
            kinds[document["event"]] += 1
            line = json.dumps(document, separators=(",", ":")).encode()
            event_bytes.append(len(line))
            raw_lines.append(line)
            tracker.accept(Event.from_raw(document), NO_WATERMARK, SETTINGS)
            # The job's watermark trails the newest event and seals what it has passed.
            tracker.advance(document["timestamp"] - OUT_OF_ORDERNESS_MS, SETTINGS)
            if index == len(events) // 2:  # mid-play: what the job's state holds of an open session
                tracker_bytes.append(len(pickle.dumps(tracker, protocol=pickle.HIGHEST_PROTOCOL)))
        heartbeats += kinds_in(events, "heartbeat")
        started += any(document["event"] == "playing" for document in events)
        tracker.advance(END_OF_TIME, SETTINGS)
        final = json.dumps(tracker.record(SETTINGS), separators=(",", ":")).encode()
        record_bytes.append(len(final))
        session_lines.append(final)

    per_tick = {kind: count / heartbeats for kind, count in kinds.items() if kind not in PER_SESSION_KINDS}
    per_session = {kind: kinds[kind] / args.sessions for kind in PER_SESSION_KINDS}
    raw = b"\n".join(raw_lines)
    sessions = b"\n".join(session_lines)
    workload = (f"{args.sessions:,} simulator sessions (seed {args.seed}), {HEARTBEAT_MS} ms heartbeats, "
                f"{PLAYING_MS[0] // 60_000}-{PLAYING_MS[1] // 60_000} min of play")  # fmt: skip
    figures = [
        Figure("events_per_heartbeat_interval", round(sum(per_tick.values()), 4),
               "events per heartbeat interval while playing", workload),
        *(Figure(f"events_per_heartbeat_interval_{kind}", round(share, 4), "events per heartbeat interval",
                 workload) for kind, share in sorted(per_tick.items())),
        Figure("events_per_session_outside_intervals", round(sum(per_session.values()), 4),
               "events per session (init, metadata, loading, start, end)", workload),
        Figure("started_share", round(started / args.sessions, 4), "share of sessions that start playing", workload),
        Figure("event_bytes", round(sum(event_bytes) / len(event_bytes), 1), "bytes per event (JSON)", workload),
        Figure("session_record_bytes", round(sum(record_bytes) / len(record_bytes), 1),
               "bytes per session record (JSON)", workload),
        Figure("open_session_state_bytes", round(sum(tracker_bytes) / len(tracker_bytes), 1),
               "bytes per open session in the job's state (pickled tracker)", workload),
        Figure("too_late_share", inspect.signature(PlayerSimulator).parameters["too_late_share"].default,
               "share of events a player sends too late (the simulator's default)", workload),
        Figure("raw_gzip_ratio", round(len(gzip.compress(raw)) / len(raw), 4), "GZIP bytes per raw byte", workload),
        Figure("session_gzip_ratio", round(len(gzip.compress(sessions)) / len(sessions), 4),
               "GZIP bytes per session-record byte", workload),
    ]  # fmt: skip
    for figure in figures:
        print(f"{figure.name:48} {figure.value:>10g}  {figure.unit}")
    record("traffic", figures, args.reference)


def kinds_in(events: list[dict[str, Any]], kind: str) -> int:
    return sum(1 for document in events if document["event"] == kind)


if __name__ == "__main__":
    main()
