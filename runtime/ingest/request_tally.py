"""The ingest service's per-request figures: plain numbers, turned into Prometheus metrics at scrape time.

prometheus_client's Counter and Histogram take a lock at every update, and a request
made five, which bench/ingest.py showed in the service's CPU per request. The event loop
is one thread, so these are plain additions, and a prometheus_client custom collector
reports them in the same families a Counter and a Histogram would (names,
``_total``, ``_bucket{le=...}``, ``_sum``, ``_count``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector


class Buckets:
    """A histogram's counts: one per upper bound (inclusive, as Prometheus's `le`), one past the last."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        cumulative, buckets = 0, []
        for bound, count in zip((*map(str, map(float, self.bounds)), "+Inf"), self.counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=self.total)


class RequestTally(Collector):
    """Requests by status, accepted events, events per request and acknowledgement latency."""

    def __init__(self, accepted_name: str, count_bounds: Sequence[float], latency_bounds: Sequence[float]) -> None:
        self.accepted_name = accepted_name
        self.by_status: dict[int, int] = {}
        self.events_accepted = 0
        self.events_per_request = Buckets(count_bounds)
        self.ack_seconds = Buckets(latency_bounds)

    def answered(self, status: int) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1

    def accepted(self, events: int, ack_seconds: float) -> None:
        self.events_accepted += events
        self.ack_seconds.observe(ack_seconds)

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("ingest_requests", "HTTP requests answered, by status", labels=["status"])
        for status, count in sorted(self.by_status.items()):
            requests.add_metric([str(status)], count)
        yield requests
        yield CounterMetricFamily(self.accepted_name, "Events acknowledged as durable", value=self.events_accepted)
        yield self.events_per_request.family("ingest_events_per_request", "Events in one request")
        yield self.ack_seconds.family("ingest_ack_seconds", "From request body read to durable acknowledgement")
