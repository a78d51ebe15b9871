"""What a replay changes in an event, per target: time, session id, which sessions, how many copies.

- Time shift: every timestamp moves by the same amount, so gaps are kept and sessions
  look live now.
- Session-id rewrite: ``r<copy>-<hash>`` of a salt, the copy's number and the original
  id: the same session maps to the same id in one run (a session spread over several
  objects stays one session), copies of a session are distinct sessions, and another
  salt gives other ids. The original id stays in ``server.replayOf``.
- Sampling keeps or drops whole sessions (a hash of salt and id), never single events.
- The arrival time (``server.receivedAt``) is the replay's: the sessionizer judges
  caught-up on arrival times, and a replayed event arrives now.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from runtime.events import EVENT_ID_FIELD, PARTITION_KEY_FIELD, RECEIVED_AT_FIELD, SERVER_FIELD

REPLAY_OF_FIELD = "replayOf"
_SAMPLE_SCALE = float(1 << 64)


@dataclass(frozen=True)
class Transform:
    shift_ms: int
    salt: str
    multiplier: int = 1
    sample: float = 1.0  # share of sessions kept, 0 < sample <= 1
    # original id -> its copies' ids, or None when the session is not sampled
    _mapped: dict[str, tuple[str, ...] | None] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")
        if not 0 < self.sample <= 1:
            raise ValueError(f"sample must be > 0 and <= 1, got {self.sample}")

    def keeps(self, session_id: str) -> bool:
        if self.sample >= 1:
            return True
        digest = hashlib.blake2b(f"{self.salt}\x00{session_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / _SAMPLE_SCALE < self.sample

    def session_id(self, session_id: str, copy: int) -> str:
        digest = hashlib.blake2b(f"{self.salt}\x00{copy}\x00{session_id}".encode(), digest_size=16).hexdigest()
        return f"r{copy}-{digest}"

    def _ids(self, original: str) -> tuple[str, ...] | None:
        if original not in self._mapped:
            keep = self.keeps(original)
            self._mapped[original] = (
                tuple(self.session_id(original, c) for c in range(self.multiplier)) if keep else None
            )
        return self._mapped[original]

    def copies(self, event: dict[str, Any], received_at_ms: int) -> list[dict[str, Any]]:
        """The event's copies for a target (none when its session is not sampled)."""
        original = event[PARTITION_KEY_FIELD]
        ids = self._mapped[original] if original in self._mapped else self._ids(original)
        if ids is None:
            return []
        server = event.get(SERVER_FIELD)
        # One server object for all copies: they arrive together and are only read from here on.
        replay_server = {**(server if type(server) is dict else {}), RECEIVED_AT_FIELD: received_at_ms,
                         REPLAY_OF_FIELD: original}  # fmt: skip
        timestamp = event["timestamp"] + self.shift_ms
        event_id = event.get(EVENT_ID_FIELD)
        # A dict display rather than copy-and-assign: a replay makes one per event and copy.
        replayed = [
            {**event, PARTITION_KEY_FIELD: session_id, "timestamp": timestamp, SERVER_FIELD: replay_server}
            for session_id in ids
        ]
        if type(event_id) is str:
            for copy, copied in enumerate(replayed):
                copied[EVENT_ID_FIELD] = f"{event_id}-r{copy}"
        return replayed
