"""How fresh the store's session rows are, per event, measured as the session writer stores them.

- first row: from an event's acknowledgement (the player's POST answered) to the first row
  in the store that reflects it: a row of its session, written after the event was posted,
  whose ``lastEventTime`` is at or past the event's time (an update record carries its
  session's pending events too). For an event sent out of order this can be a row written
  before the event was read, so out-of-order events (a few per cent) can count early.
- final row: from the acknowledgement of a session's last event to its final row.

Times are taken when the writer's store call returned: the row is then in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.local.simulator import SessionTruth


@dataclass
class Freshness:
    first_row_ms: list[float] = field(default_factory=list)  # one per on-time event
    final_row_ms: list[float] = field(default_factory=list)  # one per session
    _reflected: dict[str, set[int]] = field(default_factory=dict)  # session id -> event times seen in a row
    _finished: set[str] = field(default_factory=set)  # sessions whose final row was measured

    def observe(self, fields: dict[str, Any], truth: SessionTruth | None, stored_at: float) -> None:
        """One session row stored at ``stored_at`` (wall seconds)."""
        if truth is None:  # a replayed copy: its events were not posted by the simulator
            return
        newest = fields.get("lastEventTime")
        reflected = self._reflected.setdefault(truth.session_id, set())
        if isinstance(newest, int):
            for document in truth.accepted:
                at, posted = document["timestamp"], truth.posted_at.get(document["timestamp"])
                if at <= newest and at not in reflected and posted is not None and posted <= stored_at:
                    reflected.add(at)
                    self.first_row_ms.append((stored_at - posted) * 1000)
        if fields.get("final") and truth.session_id not in self._finished:
            self._finished.add(truth.session_id)
            posts = [truth.posted_at[d["timestamp"]] for d in truth.accepted if d["timestamp"] in truth.posted_at]
            if posts and truth.finished:
                self.final_row_ms.append((stored_at - max(posts)) * 1000)
