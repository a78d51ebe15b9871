"""The pipeline view of the page, as the resource dashboard gives it on AWS: the run's snapshots,
sampled every few seconds into time series.

Per sample: events acknowledged per second, user records per second into each stream's bucket
(raw, session, late: what Firehose delivers), late events per second, how far behind each
consumer's last read was (the Firehose stand-ins and the session writer's event source, per
region), the freshness of the stores (post -> first row, post -> final row, p50 and p95 so
far), errors so far, and the parts down. Chaos faults, the outage and each phase of the run
(traffic, finishing, replaying, draining) are marked at the sample they first appear in.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from runtime.local.snapshot import Snapshot
from runtime.local.verify import percentile
from runtime.names import STREAM_KINDS

SAMPLE_SECONDS: Final = 2.0
PIPELINE_FILE: Final = "pipeline.json"  # the samples, saved in the run's folder at its end
KEEP_SAMPLES: Final = 3_600  # two hours at one sample every 2 s


_PHASE = re.compile(r"[a-z]+")  # a phase's kind: starting, traffic, finishing, replaying, draining, drained


def phase_kind(phase: str) -> str:
    match = _PHASE.match(phase)
    return match[0] if match else phase


@dataclass(frozen=True)
class Mark:
    at_ms: int
    kind: str  # fault | phase
    text: str


@dataclass(frozen=True)
class Sample:
    at_ms: int
    acknowledged: int
    relayed: dict[str, int]  # stream kind -> user records delivered to its bucket
    lag_ms: dict[str, int | None]  # "<consumer> (<region>)" -> ms behind
    first_row_ms: tuple[float | None, float | None]  # p50, p95 so far
    final_row_ms: tuple[float | None, float | None]
    errors: int
    down: tuple[str, ...]


def sample_of(snapshot: Snapshot, at_ms: int) -> Sample:
    first, final = snapshot.first_row_ms(), snapshot.final_row_ms()
    return Sample(
        at_ms=at_ms,
        acknowledged=snapshot.acknowledged,
        relayed={kind: snapshot.relayed(kind) for kind in STREAM_KINDS},
        lag_ms={f"{name} ({region.region})": ms for region in snapshot.regions for name, ms in region.consumer_lag_ms},
        first_row_ms=(percentile(first, 0.5), percentile(first, 0.95)),
        final_row_ms=(percentile(final, 0.5), percentile(final, 0.95)),
        errors=len(snapshot.errors),
        down=tuple(snapshot.down()),
    )


class PipelineHistory:
    """Samples of the run, taken by sample() (the page server's thread calls it every few seconds)."""

    def __init__(self, snapshots: Callable[[], Snapshot] | None, clock: Callable[[], float] = time.time) -> None:
        self.snapshots = snapshots  # None: a run that ended (restore)
        self.clock = clock
        self.samples: deque[Sample] = deque(maxlen=KEEP_SAMPLES)
        self.marks: list[Mark] = []  # faults and phases, when first seen
        self.phase = ""
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def sample(self) -> None:
        if self.snapshots is None:
            return  # the run has ended: what was sampled is all there is
        snapshot = self.snapshots()
        at_ms = int(self.clock() * 1000)
        with self._lock:
            self.samples.append(sample_of(snapshot, at_ms))
            kind = phase_kind(snapshot.phase)
            if kind != phase_kind(self.phase):
                self.marks.append(Mark(at_ms, "phase", kind))
            self.phase = snapshot.phase
            for fault in snapshot.faults:
                key = fault.split(" (", 1)[0]  # a fault's description ends with whether its part is back
                if key not in self._seen:
                    self._seen.add(key)
                    self.marks.append(Mark(at_ms, "fault", fault))

    def saved(self) -> dict[str, Any]:
        """Everything sampled, as JSON (PIPELINE_FILE); restore() reads it back."""
        with self._lock:
            return {"phase": self.phase, "samples": [dataclasses.asdict(s) for s in self.samples],
                    "marks": [dataclasses.asdict(m) for m in self.marks]}  # fmt: skip

    @classmethod
    def restore(cls, saved: dict[str, Any]) -> PipelineHistory:
        """The history of a run that ended, from its PIPELINE_FILE (no more samples are taken)."""
        history = cls(None)
        history.phase = saved["phase"]
        for sample in saved["samples"]:
            history.samples.append(Sample(**{**sample, "first_row_ms": tuple(sample["first_row_ms"]),
                                             "final_row_ms": tuple(sample["final_row_ms"]),
                                             "down": tuple(sample["down"])}))  # fmt: skip
        history.marks = [Mark(**mark) for mark in saved["marks"]]
        return history

    def view(self) -> dict[str, Any]:
        """The page's JSON: times, then each series (rates between samples, the rest as sampled)."""
        with self._lock:
            samples = list(self.samples)
            marks = list(self.marks)
            phase = self.phase
        pairs = list(itertools.pairwise(samples))
        times = [b.at_ms for _, b in pairs]

        def rate(count: Callable[[Sample], int]) -> list[float]:
            return [max(0, count(b) - count(a)) / max(1e-3, (b.at_ms - a.at_ms) / 1000) for a, b in pairs]

        consumers = sorted({name for s in samples for name in s.lag_ms})
        latest = samples[-1] if samples else None
        return {
            "phase": phase,
            "times": times,
            "events_in": rate(lambda s: s.acknowledged),
            "streams": {kind: rate(lambda s, k=kind: s.relayed[k]) for kind in STREAM_KINDS},  # type: ignore[misc]
            "late_events": rate(lambda s: s.relayed["late"]),
            "lag_ms": {name: [b.lag_ms.get(name) for _, b in pairs] for name in consumers},
            "first_row_ms": {
                "p50": [b.first_row_ms[0] for _, b in pairs],
                "p95": [b.first_row_ms[1] for _, b in pairs],
            },
            "final_row_ms": {
                "p50": [b.final_row_ms[0] for _, b in pairs],
                "p95": [b.final_row_ms[1] for _, b in pairs],
            },
            "errors": [b.errors for _, b in pairs],
            "down": list(latest.down) if latest else [],
            "marks": [{"at_ms": m.at_ms, "kind": m.kind, "text": m.text} for m in marks],
        }
