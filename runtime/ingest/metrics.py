"""Counters and latency histograms of the ingest service.

Exposed at GET /metrics in Prometheus text format, and optionally written to the log
as CloudWatch Embedded Metric Format lines (CloudWatch turns those into metrics
without an agent). Each app has its own registry, so tests never share counters.

The EMF names are this module's to spell: the alarms on the service (components/operations/alerting.py)
import the namespace, the dimension and the metric names below rather than retyping them.
A counter with labels ships one metric per label value and one for their sum under the
counter's own name, which is what an alarm watches.
"""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from runtime.ingest.request_tally import RequestTally

EMF_NAMESPACE = "prism/ingest"
# One series per raw stream, i.e. per environment and region, however many tasks write it.
EMF_DIMENSION = "StreamName"
# What an operator is paged on: 503s answered because Kinesis did not take the events,
# events refused as invalid, and Kinesis records retried.
UNAVAILABLE = "ingest_unavailable"
EVENTS_ACCEPTED = "ingest_events_accepted"
EVENTS_REJECTED = "ingest_events_rejected"
KINESIS_RETRIES = "ingest_put_records_retries"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_COUNT_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class IngestMetrics:
    def __init__(self, stream_name: str = "") -> None:
        self.stream_name = stream_name  # the EMF dimension's value
        self.registry = CollectorRegistry()
        r = self.registry
        # Requests by status, accepted events, events per request, acknowledgement latency.
        self.requests = RequestTally(EVENTS_ACCEPTED, _COUNT_BUCKETS, _LATENCY_BUCKETS)
        r.register(self.requests)
        self.events_rejected = Counter(EVENTS_REJECTED, "Events rejected, by reason", ["reason"], registry=r)
        self.aggregated_records = Counter("ingest_aggregated_records", "Kinesis records written", registry=r)
        self.user_records_per_record = Histogram(
            "ingest_user_records_per_record", "Events per aggregated Kinesis record", buckets=_COUNT_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.put_records_calls = Counter("ingest_put_records_calls", "PutRecords calls", registry=r)
        self.put_records_latency = Histogram(
            "ingest_put_records_seconds", "PutRecords call latency", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.put_records_retries = Counter(
            KINESIS_RETRIES, "Kinesis records retried, by error code", ["error"], registry=r
        )
        self.put_records_throttles = Counter(
            "ingest_put_records_throttles", "Records refused with ProvisionedThroughputExceeded", registry=r
        )
        self.buffered_events = Gauge("ingest_buffered_events", "Events accepted but not yet durable", registry=r)
        self.backpressure = Counter("ingest_backpressure", "Requests refused because the buffer was full", registry=r)
        self.unavailable = Counter(UNAVAILABLE, "Requests answered 503 because Kinesis did not take them",
                                   registry=r)  # fmt: skip
        self.failed_events_delivered = Counter(
            "ingest_failed_events_delivered", "Rejected events written to the failed-events Firehose", registry=r
        )
        self.failed_events_logged = Counter(
            "ingest_failed_events_logged", "Rejected events only logged (no Firehose, or it failed)", registry=r
        )
        self._emf_last: dict[str, float] = {}

    def prometheus(self) -> bytes:
        return generate_latest(self.registry)

    def emf(self, now: float | None = None) -> dict[str, Any]:
        """One EMF document with each counter's increase since the previous call."""
        totals: dict[str, float] = {}
        for family in self.registry.collect():
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                name = sample.name.removesuffix("_total")
                if sample.labels:
                    totals[name] = totals.get(name, 0.0) + sample.value
                totals[f"{name}{''.join(f'.{v}' for v in sample.labels.values())}"] = sample.value
        values: dict[str, float] = {}
        for key, total in totals.items():
            values[key] = total - self._emf_last.get(key, 0.0)
            self._emf_last[key] = total
        timestamp = int((now if now is not None else time.time()) * 1000)
        return {
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    {"Namespace": EMF_NAMESPACE, "Dimensions": [[EMF_DIMENSION]],
                     "Metrics": [{"Name": k, "Unit": "Count"} for k in sorted(values)]}
                ],
            },
            EMF_DIMENSION: self.stream_name,
            **values,
        }  # fmt: skip

    def emf_line(self) -> str:
        return json.dumps(self.emf(), separators=(",", ":"))
