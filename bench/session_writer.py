"""Session writer throughput: 100,000 session records through the Lambda handler, Timestream faked.

Run: `make bench-session-writer`. The fake client records every WriteRecords call and
answers at once, so the figures are the handler's own cost (decode, de-aggregate,
parse, map, batch) and the shape of its calls: records/s, WriteRecords calls per 1,000
records (10 is the floor: full calls of 100) and bytes per call.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bench.results import Figure, add_reference_option, record
from runtime.session_writer.handler import handle
from runtime.session_writer.timestream import TimestreamStore
from tests.session_writer.fakes import FakeTimestream, kinesis_event, plain, session_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1_000, help="Kinesis records per invocation (ESM batch)")
    add_reference_option(parser)
    args = parser.parse_args()

    template = session_record("template")
    records = [{**template, "sessionId": f"s-{i}", "version": 1 + i % 7} for i in range(args.records)]
    events = [kinesis_event(plain(records[i : i + args.batch_size])) for i in range(0, args.records, args.batch_size)]
    client = FakeTimestream()
    store = TimestreamStore(client, "prism_dev", "sessions", max_parallel_calls=4)

    started = time.perf_counter()
    cpu_started = time.process_time()
    failed = 0
    for event in events:
        response: dict[str, Any] = handle(event, None, store)
        failed += len(response["batchItemFailures"])
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started

    rows = sum(len(call) for call in client.calls)
    call_bytes = [len(json.dumps(call, separators=(",", ":"))) for call in client.calls]
    print(f"{args.records:,} session records in {len(events)} invocations of {args.batch_size}: "
          f"{args.records / wall:,.0f} records/s wall, {args.records / cpu:,.0f} records/s per CPU-second")  # fmt: skip
    print(f"WriteRecords calls: {len(client.calls):,} ({len(client.calls) / (args.records / 1000):.1f} per 1,000 "
          f"records), rows written {rows:,}, failures {failed}")  # fmt: skip
    print(f"bytes per call: mean {sum(call_bytes) / len(call_bytes):,.0f}, max {max(call_bytes):,} "
          f"(WriteRecords JSON body of {rows // len(client.calls)} rows)")  # fmt: skip
    workload = f"{args.records:,} session records, {args.batch_size} per invocation, Timestream faked"
    record("session-writer", [
        Figure("records_per_cpu_second", round(args.records / cpu), "records/s per CPU-second", workload),
        Figure("write_calls_per_1000_records", round(len(client.calls) / (args.records / 1000), 2),
               "WriteRecords calls per 1,000 records", workload),
        Figure("bytes_per_write_call", round(sum(call_bytes) / len(call_bytes)), "bytes per WriteRecords call",
               workload),
    ], args.reference)  # fmt: skip


if __name__ == "__main__":
    main()
