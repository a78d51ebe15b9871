"""Session writer throughput: 100,000 session records through the Lambda handler, Timestream faked;
then the same records into a real InfluxDB.

Run: `make bench-session-writer`. The fake client records every WriteRecords call and
answers at once, so the figures are the handler's own cost (decode, de-aggregate,
parse, map, batch) and the shape of its calls: records/s, WriteRecords calls per 1,000
records (10 is the floor: full calls of 100) and bytes per call. The InfluxDB run writes
through the handler's InfluxDB store to a local InfluxDB 1.x (the Debian package the local
pipeline uses; Timestream for InfluxDB serves the same /write) and measures the server's
own CPU time per record: the capacity model sizes the InfluxDB instance from it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ingest import cpu_seconds
from bench.results import Figure, add_reference_option, record
from runtime.local.influxdb import INFLUXD, INSTALL_HINT, start_influxdb
from runtime.session_writer.handler import handle
from runtime.session_writer.influxdb import InfluxStore
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
    influx = influxdb_figures(events, args.records)
    record("session-writer", [*influx,
        Figure("records_per_cpu_second", round(args.records / cpu), "records/s per CPU-second", workload),
        Figure("write_calls_per_1000_records", round(len(client.calls) / (args.records / 1000), 2),
               "WriteRecords calls per 1,000 records", workload),
        Figure("bytes_per_write_call", round(sum(call_bytes) / len(call_bytes)), "bytes per WriteRecords call",
               workload),
    ], args.reference)  # fmt: skip


def influxdb_figures(events: list[dict[str, Any]], records: int) -> list[Figure]:
    """The same invocations against a local InfluxDB: the server's CPU-seconds per record written."""
    if shutil.which(INFLUXD) is None:
        raise SystemExit(f"bench: {INSTALL_HINT}")
    work = Path(tempfile.mkdtemp(prefix="prism-bench-influx-"))
    server = start_influxdb(work / "data", work)
    try:
        server.query("CREATE DATABASE sessions")
        store = InfluxStore(server.url, "sessions", max_parallel_calls=4)
        cpu_started = cpu_seconds(server.part.pid)
        started = time.perf_counter()
        for event in events:
            handle(event, None, store)
        wall = time.perf_counter() - started
        server_cpu = cpu_seconds(server.part.pid) - cpu_started
        points = server.query("SELECT COUNT(*) FROM /.*/", "sessions")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"InfluxDB: {records:,} records in {wall:.1f} s wall, server {server_cpu:.1f} CPU-s: "
        f"{records / server_cpu:,.0f} records per server CPU-second ({len(points)} measurement(s) written)"
    )
    workload = f"{records:,} session records through the handler into a local InfluxDB 1.x, 4 calls in parallel"
    return [
        Figure(
            "influxdb_records_per_server_cpu_second",
            round(records / server_cpu),
            "records per InfluxDB server CPU-second",
            workload,
        ),
        Figure(
            "influxdb_records_per_second_one_invocation",
            round(records / wall),
            "records/s, one invocation after the other (handler and server)",
            workload,
        ),
    ]


if __name__ == "__main__":
    main()
