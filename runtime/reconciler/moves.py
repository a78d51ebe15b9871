"""Sessions whose player moved between regions mid-play, made whole again: the reconciler's rule.

When a region fails, its players are sent to the other region and go on with their
sessions there. Each region's sessionizer then holds part of such a session and ends it
as a session of its own: the region that lost the player by the inactivity timeout, the
other with no start seen. Both parts reach the session buckets, and each bucket holds
both regions' records and raw events (two-way replication).

Once every region's part of a session is final, the whole session is the state machine
run over the union of its events in both regions (raw events, less those the
sessionizers sent to the late stream: a late event never joins a session, wherever it
was late). Then:

- the *owner*, the region whose part ends last (where the session ended), gets the whole
  session's final record, with the version the sessionizer gives a session of that many
  events: above the version of either part, since each part holds fewer events;
- every other region gets a *moved* record at its own final record's point (same
  dimensions and time, so it replaces that row): not final, state ``moved``, one version
  above the whole session's. The dashboards count a session from its final rows and its
  playing or buffering rows; a moved row is neither, so the session counts once, in the
  owner's store, whichever region's store holds which part.

Pure: records and events in, the records to write out; the same input gives the same
records, and records already written are not asked for again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from runtime.events import MOVED_STATE
from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import NO_WATERMARK, SessionSettings, Tracker

_SEAL_ALL: Final = 2**62  # a watermark past every event: the union is complete when it is settled

EventKey = tuple[str, int]  # (event name, client timestamp): what makes two copies one event
PartKey = tuple[str, str]  # (session id, region): one region's part of a session


@dataclass(frozen=True)
class SessionParts:
    """A session with records from more than one region: each region's newest record."""

    session_id: str
    newest: Mapping[str, Mapping[str, Any]]  # region -> its newest record of the session

    @property
    def settled(self) -> bool:
        """Every region's part has ended (a moved row ended there too)."""
        return all(record["final"] or record["state"] == MOVED_STATE for record in self.newest.values())

    @property
    def owner(self) -> str:
        """The region whose part ends last: where the session ended (ties: the first by name)."""
        return min(self.newest, key=lambda region: (-int(self.newest[region]["lastEventTime"] or 0), region))


def keep_newest(newest: dict[PartKey, Mapping[str, Any]],
                records: Iterable[Mapping[str, Any]]) -> dict[PartKey, Mapping[str, Any]]:  # fmt: skip
    """Folds records into each part's newest record (highest version); returns ``newest``."""
    for record in records:
        key = (record["sessionId"], record["region"])
        known = newest.get(key)
        if known is None or known["version"] < record["version"]:
            newest[key] = record
    return newest


def split_sessions(newest: Mapping[PartKey, Mapping[str, Any]]) -> list[SessionParts]:
    """Of each part's newest record, the sessions with parts in two or more regions, in session id order."""
    regions: dict[str, dict[str, Mapping[str, Any]]] = {}
    for (session_id, region), record in newest.items():
        regions.setdefault(session_id, {})[region] = record
    return [SessionParts(sid, parts) for sid, parts in sorted(regions.items()) if len(parts) > 1]


def whole_session(session_id: str, events: Iterable[Event], late: set[EventKey],
                  settings: SessionSettings) -> dict[str, Any]:  # fmt: skip
    """The final record of the session over all its events, as one sessionizer would give it."""
    tracker = Tracker(session_id)
    for event in events:
        if event.key not in late:
            tracker.accept(event, NO_WATERMARK, settings)
    tracker.advance(_SEAL_ALL, settings)
    return tracker.record(settings)


def moved_row(part: Mapping[str, Any], whole_version: int) -> dict[str, Any]:
    """A region's final row, replaced: the same point, no longer a session of its own."""
    return {**part, "version": whole_version + 1, "final": False, "state": MOVED_STATE, "endReason": None}


def reconciled(parts: SessionParts, events: Iterable[Event], late: set[EventKey],
               settings: Callable[[str], SessionSettings]) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Region -> the record to write there (only what its store does not hold yet); nothing until settled."""
    if not parts.settled:
        return {}
    owner = parts.owner
    whole = whole_session(parts.session_id, events, late, settings(owner))
    wanted = {owner: whole}
    for region, record in parts.newest.items():
        if region != owner:
            wanted[region] = moved_row(record, whole["version"])
    return {region: record for region, record in wanted.items() if parts.newest[region]["version"] < record["version"]}
