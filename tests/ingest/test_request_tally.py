"""RequestTally reports what prometheus_client's own Counter and Histogram would for the same updates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from runtime.ingest.request_tally import RequestTally

COUNTS = (1, 2, 5, 10, 20, 50)
LATENCIES = (0.001, 0.005, 0.025, 0.1, 1.0)
SECONDS = (0.0005, 0.001, 0.003, 0.025, 0.5, 2.0)  # on, between and past the bounds


@settings(max_examples=60, deadline=None)
@given(
    answers=st.lists(st.sampled_from([200, 400, 413, 503]), max_size=30),
    sizes=st.lists(st.integers(0, 80), max_size=30),
    acks=st.lists(st.tuples(st.integers(1, 30), st.sampled_from(SECONDS)), max_size=30),
)
def test_the_scrape_is_prometheus_clients(answers: list[int], sizes: list[int], acks: list[tuple[int, float]]) -> None:
    tally = RequestTally("ingest_events_accepted", COUNTS, LATENCIES)
    ours = CollectorRegistry()
    ours.register(tally)

    theirs = CollectorRegistry()
    requests = Counter("ingest_requests", "HTTP requests answered, by status", ["status"], registry=theirs)
    accepted = Counter("ingest_events_accepted", "Events acknowledged as durable", registry=theirs)
    per_request = Histogram("ingest_events_per_request", "Events in one request", buckets=COUNTS, registry=theirs)
    ack = Histogram("ingest_ack_seconds", "From request body read to durable acknowledgement", buckets=LATENCIES,
                    registry=theirs)  # fmt: skip

    for status in answers:
        tally.answered(status)
        requests.labels(str(status)).inc()
    for size in sizes:
        tally.events_per_request.observe(size)
        per_request.observe(size)
    for events, seconds in acks:
        tally.accepted(events, seconds)
        accepted.inc(events)
        ack.observe(seconds)

    assert _samples(ours) == _samples(theirs)


def _samples(registry: CollectorRegistry) -> list[str]:
    """The scrape's sample lines, without the _created series prometheus_client adds to its own."""
    lines = generate_latest(registry).decode().splitlines()
    return sorted(line for line in lines if not line.startswith("#") and "_created" not in line)
