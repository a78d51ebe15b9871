"""The sessionizer's state layout, a contract: what a snapshot of the job holds, said once, and versioned.

A Managed Flink update restores the job from its latest snapshot. Flink matches the snapshot's
state to the new job by operator uid and state name, and the job reads each value back with its
own code: the buckets a session id falls into (the bucket count) and the stored Tracker (stored.py).
Change any of these and the new job cannot restore the open sessions, unless its code still reads
the old values (version 3 reads version 2's). With ``allowNonRestoredState``
on, Flink then drops them silently; with it off (the default), the update fails and the old job
keeps running. So the layout is declared here (job.py asks this module for every uid and state
name), each released layout is recorded in ``state_layouts.json`` with a sample Tracker as its
snapshots hold it and the earlier versions its job restores, and a test compares the two: a change
fails the test with how to release a new version.

Releasing a new state version (docs/sessionizer.md, "State versions"):

1. raise ``STATE_VERSION``;
2. ``python -m runtime.sessionizer.state_layout --release [--restores N ...]`` records the new
   layout, and the earlier versions whose snapshots the new job reads (a test restores each);
3. a deploy from a version it restores is an ordinary one; from any other, deploy with
   ``sessionizer.allowNonRestoredState: true`` and ``sessionizer.stateMigration`` equal to the
   new version, then remove both.

Plain Python: the stack's settings check ``stateMigration`` against it without Flink.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from runtime.sessionizer import stored
from runtime.sessionizer.playback import PLAYBACK_STATE, Event
from runtime.sessionizer.session import SessionSettings, Tracker

# 1: one value per session under operator "sessions"; 2: sessions by bucket; 3: a session's value in
# the job's stored form (stored.py), which reads version 2's values too.
STATE_VERSION: Final = 3

# Operator uids: where Flink finds each operator's state in a snapshot.
RAW_SOURCE_UID: Final = "raw-stream"
SESSIONS_UID: Final = "sessions-by-bucket"
SESSION_SINK_UID: Final = "session-stream"
LATE_SINK_UID: Final = "late-stream"
# The session function's keyed state (keyed by bucket).
SESSIONS_STATE: Final = "sessions"  # map: session id -> the Tracker's stored form (stored.py), pickled
END_CHECKS_STATE: Final = "end-checks"  # map: event time -> pickled session ids due then
UPDATE_TIMER_STATE: Final = "update-timer"  # value: the bucket's next update time
# Sessions are kept and batched in this many buckets (SessionBatches in the connector jar); a
# session's bucket is part of where its state is, so the count is part of the layout.
SESSION_BUCKETS: Final = 256

LAYOUTS_FILE: Final = Path(__file__).resolve().parent / "state_layouts.json"


@dataclass(frozen=True)
class StateLayout:
    operator_uids: tuple[str, ...]
    keyed_state: tuple[tuple[str, str, str, str], ...]  # (name, kind, key type, value type) of the sessions
    session_buckets: int
    tracker_state: tuple[str, ...]  # the stored Tracker's form and fields, in order
    playback_state: tuple[str, ...]  # its Playback's
    event_fields: tuple[str, ...]  # a pending event's

    def as_json(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in
                dataclasses.asdict(self).items()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StateLayout:
        def tuples(value: Any) -> Any:
            return tuple(tuples(v) for v in value) if isinstance(value, list) else value

        return cls(**{key: tuples(value) for key, value in data.items()})


def current_layout() -> StateLayout:
    """The layout of the job as this code builds it."""
    return StateLayout(
        operator_uids=(RAW_SOURCE_UID, SESSIONS_UID, SESSION_SINK_UID, LATE_SINK_UID),
        keyed_state=(
            (SESSIONS_STATE, "map", "STRING", "PICKLED_BYTE_ARRAY"),
            (END_CHECKS_STATE, "map", "LONG", "PICKLED_BYTE_ARRAY"),
            (UPDATE_TIMER_STATE, "value", "LONG", ""),
        ),
        session_buckets=SESSION_BUCKETS,
        tracker_state=(f"format {stored.STORED_FORMAT}", "flags final changed", *stored.STORED_FIELDS),
        playback_state=PLAYBACK_STATE,
        event_fields=stored.PENDING_FIELDS,
    )


def sample_tracker() -> Tracker:
    """A session mid-play, with sealed and pending events: what a snapshot holds of a session."""
    settings = SessionSettings("dev", "us-east-1", allowed_lateness_ms=30_000, inactivity_gap_ms=15_000,
                               update_interval_ms=10_000)  # fmt: skip
    tracker = Tracker("layout-sample")
    start = 1_764_000_000_000
    steps = [("init", 0, None), ("loading", 0.1, None), ("playing", 1.0, {"bitrate": 3000}), ("buffering", 10.0, None),
             ("buffered", 12.0, None), ("heartbeat", 40.0, None)]  # fmt: skip
    for name, seconds, payload in steps:
        tracker.accept(Event(name, start + round(seconds * 1000), "layout-sample", payload), start, settings)
    tracker.advance(start + 35_000 + settings.allowed_lateness_ms, settings)  # seals up to 35 s
    return tracker


def stored_sample() -> bytes:
    """The sample Tracker's value as a snapshot of this version holds it (PyFlink pickles the value)."""
    return pickle.dumps(stored.encode(sample_tracker()))


def released() -> dict[int, dict[str, Any]]:
    """Every released version: its layout, the sample Tracker's value in its snapshots (base64), and
    the earlier versions its job restores."""
    data = json.loads(LAYOUTS_FILE.read_text())
    return {int(version): entry for version, entry in data["versions"].items()}


def restores(version: int = STATE_VERSION) -> list[int]:
    """The earlier versions whose snapshots ``version``'s job reads as they stand."""
    found: list[int] = released().get(version, {}).get("restores", [])
    return found


def layout_problem(layout: StateLayout, versions: dict[int, dict[str, Any]], version: int) -> str | None:
    """Why the layout may not ship as ``version``, or None."""
    if version not in versions:
        return (f"state version {version} is not released: run python -m runtime.sessionizer.state_layout "
                "--release, and commit runtime/sessionizer/state_layouts.json")  # fmt: skip
    recorded = StateLayout.from_json(versions[version]["layout"])
    if recorded == layout:
        return None
    changed = [f.name for f in dataclasses.fields(StateLayout) if getattr(recorded, f.name) != getattr(layout, f.name)]
    return (f"the sessionizer's state layout changed ({', '.join(changed)}) but STATE_VERSION is still {version}: "
            f"a deploy could not restore the open sessions. Release state version {version + 1}: raise "
            "STATE_VERSION in runtime/sessionizer/state_layout.py, run python -m runtime.sessionizer.state_layout "
            f"--release (with --restores {version} if the new job still reads version {version}'s state), and deploy "
            "from a version it does not restore with sessionizer.allowNonRestoredState: true and "
            f"sessionizer.stateMigration: {version + 1} (docs/sessionizer.md, State versions)")  # fmt: skip


def release(path: Path = LAYOUTS_FILE, restores: tuple[int, ...] = ()) -> str:
    data = json.loads(path.read_text()) if path.exists() else {"versions": {}}
    entry = data["versions"].get(str(STATE_VERSION))
    layout = current_layout()
    if entry is not None and StateLayout.from_json(entry["layout"]) != layout:
        raise SystemExit(f"state version {STATE_VERSION} is released with another layout: raise STATE_VERSION first")
    unknown = [version for version in restores if str(version) not in data["versions"]]
    if unknown:
        raise SystemExit(f"--restores names versions never released: {unknown}")
    if entry is None:
        sample = base64.b64encode(stored_sample()).decode()
        data["versions"][str(STATE_VERSION)] = {"layout": layout.as_json(), "sample_tracker": sample,
                                                "restores": sorted(restores)}  # fmt: skip
        path.write_text(json.dumps(data, indent=1) + "\n")
        return f"state version {STATE_VERSION} released into {path.name}"
    return f"state version {STATE_VERSION} is already released with this layout"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The sessionizer's state layout, and its released versions")
    parser.add_argument("--release", action="store_true", help=f"record version {STATE_VERSION} in {LAYOUTS_FILE.name}")
    parser.add_argument("--restores", type=int, nargs="*", default=[], metavar="VERSION",
                        help="earlier versions whose snapshots this version's job reads as they stand")  # fmt: skip
    args = parser.parse_args(argv)
    if args.release:
        print(release(restores=tuple(args.restores)))
        return 0
    problem = layout_problem(current_layout(), released(), STATE_VERSION)
    print(problem or f"state version {STATE_VERSION}: the layout is the released one")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
