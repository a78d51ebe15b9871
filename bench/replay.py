"""Replay throughput: raw-bucket objects in moto S3 to a fast Kinesis stand-in, KPL-aggregated.

Run: `make bench-replay`. moto server and bench/fast_kinesis.py run as processes pinned to
the second core; the replay (read, de-gzip, parse, transform, encode, aggregate, PutRecords)
runs here, on the first. Prints events/s by wall clock and per CPU-second of the replay,
user records per Kinesis record, and PutRecords calls per 10,000 events.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.results import Figure, add_reference_option, record
from runtime.local.moto_server import start_moto_server
from runtime.local.processes import free_port, start
from runtime.replay.clients import stream_client
from runtime.replay.history import Pace, list_objects, replay_history
from runtime.replay.replay import build_routes, long_lived_objects_frozen, now_ms
from runtime.replay.settings import TargetSpec
from runtime.replay.targets import StreamTarget, running
from tests.replay.objects import T0, object_bytes, recorded_events

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "prism-bench-use1-raw-123456789012"
REGION = "us-east-1"


async def replay(
    s3: object, endpoint: str, multiplier: int, chunk_events: int
) -> tuple[int, StreamTarget, float, float]:
    spec = TargetSpec("bench", REGION, stream="prism-bench-use1-raw", multiplier=multiplier)
    target = StreamTarget(spec.name, stream_client(REGION, endpoint), "prism-bench-use1-raw", REGION)
    objects = list_objects(s3, BUCKET, "raw/", T0, T0 + 86_400_000)
    start = now_ms()
    routes = build_routes((spec,), "bench", start - T0, {spec.name: target})
    wall, cpu = time.perf_counter(), time.process_time()
    with long_lived_objects_frozen():  # as the replayer's own entry points do
        async with running([target]):
            progress = await replay_history(s3, BUCKET, objects, (T0, T0 + 86_400_000), Pace(T0, start, None),
                                            routes, chunk_events, lambda _: None)  # fmt: skip
    return progress.read.events, target, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--sessions-per-object", type=int, default=5_000, help="six events each")
    parser.add_argument("--multiplier", type=int, default=1)
    parser.add_argument("--chunk-events", type=int, default=5_000)
    parser.add_argument("--shards", type=int, default=4)
    add_reference_option(parser)
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        print("bench: taskset is needed (apt-get install util-linux)", file=sys.stderr)
        return 2
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.sched_setaffinity(0, {0})
    work = Path(tempfile.mkdtemp(prefix="prism-bench-replay-"))
    moto = start_moto_server(work)
    os.sched_setaffinity(moto.part.pid, {1})
    port = free_port()
    kinesis = start("fast-kinesis", ["taskset", "-c", "1", sys.executable, "-m", "bench.fast_kinesis", str(port),
                                     str(args.shards)], {}, ROOT, work)  # fmt: skip
    try:
        s3 = moto.client("s3", REGION)
        s3.create_bucket(Bucket=BUCKET)
        for index in range(args.objects):
            recorded = recorded_events(args.sessions_per_object, T0 + index * 60_000, session_prefix=f"o{index}-")
            s3.put_object(Bucket=BUCKET, Key=f"raw/year=2026/month=11/day=30/hour=08/raw-to-s3-{index:03d}.gz",
                          Body=object_bytes(recorded))  # fmt: skip
        time.sleep(0.5)
        events, target, wall, cpu = asyncio.run(
            replay(s3, f"http://127.0.0.1:{port}", args.multiplier, args.chunk_events)
        )
    finally:
        kinesis.stop()
        moto.stop()
    sent = events * args.multiplier
    print(f"objects                        {args.objects}")
    print(f"events read                    {events:,}")
    print(f"events sent                    {sent:,} (multiplier {args.multiplier})")
    print(f"wall time                      {wall:.2f} s")
    print(f"replay CPU time                {cpu:.2f} s")
    print(f"events/s, wall clock           {sent / wall:,.0f}")
    print(f"events/s per CPU-second        {sent / cpu:,.0f}   (target >= 50,000)")
    print(f"user records per Kinesis record {sent / max(target.kinesis_records, 1):.1f}")
    print(f"PutRecords calls per 10,000 events {10_000 * target.put_records_calls / sent:.2f}")
    workload = (f"{args.objects} objects of {args.sessions_per_object} sessions, multiplier {args.multiplier}, "
                f"{args.shards} shards, fast Kinesis stand-in")  # fmt: skip
    record("replay", [
        Figure("events_per_cpu_second", round(sent / cpu), "events/s per CPU-second", workload),
        Figure("user_records_per_kinesis_record", round(sent / max(target.kinesis_records, 1), 1),
               "events per aggregated Kinesis record", workload),
        Figure("put_records_calls_per_10000_events", round(10_000 * target.put_records_calls / sent, 2),
               "PutRecords calls per 10,000 events", workload),
    ], args.reference)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
