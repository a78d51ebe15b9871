"""Historical replay from the command line.

    python -m runtime.replay --source s3://bucket/prefix --from 2026-11-30T08:00 --to 2026-11-30T09:00 \\
        --target datamart --speed 10x [--multiplier 2] [--sample 0.5] [--dry-run]

The target's raw stream is named by runtime/names.py (the target environment's stack
file gives its primary region unless --target-region says otherwise); --url fires at an
ingest URL instead. --speed is a multiple of the recorded pace (10x) or ``max``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runtime.names import ENVIRONMENT_OF_BUCKET, RegionNames
from runtime.replay.clients import create_targets, s3_client
from runtime.replay.history import Pace, list_objects, replay_history, status_printer
from runtime.replay.replay import build_routes, long_lived_objects_frozen, now_ms
from runtime.replay.settings import ReplaySettings, TargetSpec
from runtime.replay.targets import running

ROOT = Path(__file__).resolve().parents[2]
_SOURCE = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")
_SPEED = re.compile(r"^(?P<factor>\d+(?:\.\d+)?)x$")


def timestamp_ms(text: str) -> int:
    """An ISO 8601 time (UTC unless it says otherwise), as epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time such as 2026-11-30T08:00: {text!r}") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def speed(text: str) -> float | None:
    if text == "max":
        return None
    match = _SPEED.match(text)
    if match is None or float(match["factor"]) <= 0:
        raise argparse.ArgumentTypeError(f"a speed is a multiple such as 1x or 10x, or max: {text!r}")
    return float(match["factor"])


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m runtime.replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--source", required=True, help="s3://bucket/prefix of raw-bucket objects")
    parser.add_argument("--source-region", default="us-east-1", help="the source bucket's region")
    parser.add_argument("--from", dest="from_ms", type=timestamp_ms, required=True, help="first arrival time")
    parser.add_argument("--to", dest="to_ms", type=timestamp_ms, required=True, help="end of the window (excluded)")
    parser.add_argument("--target", required=True, help="the environment to fire into (dev, datamart, ...)")
    parser.add_argument("--target-region", help="the target's region (default: its stack's primary)")
    parser.add_argument("--url", help="fire at this ingest URL instead of the target's raw stream")
    parser.add_argument("--speed", type=speed, default=1.0, help="1x, 10x, ... or max (default 1x)")
    parser.add_argument("--multiplier", type=int, default=1, help="copies of each session (default 1)")
    parser.add_argument("--sample", type=float, default=1.0, help="share of sessions replayed (default 1)")
    parser.add_argument("--salt", default=None, help="session-id rewrite salt (default: a new one per run)")
    parser.add_argument("--chunk-events", type=int, default=5_000, help="events sent together at most")
    parser.add_argument("--allow-same-environment", action="store_true",
                        help="allow the source bucket's own environment as target (a feedback loop)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="read and transform, send nothing")
    parser.add_argument("--kinesis-endpoint", help="a Kinesis stand-in, e.g. http://127.0.0.1:4567")
    parser.add_argument("--s3-endpoint", help="an S3 stand-in, e.g. http://127.0.0.1:5000")
    args = parser.parse_args(argv)
    if _SOURCE.match(args.source) is None:
        parser.error(f"--source must be s3://bucket/prefix, got {args.source!r}")
    if args.to_ms <= args.from_ms:
        parser.error("--to must be after --from")
    if args.multiplier < 1:
        parser.error(f"--multiplier must be >= 1, got {args.multiplier}")
    if not 0 < args.sample <= 1:
        parser.error(f"--sample must be > 0 and <= 1, got {args.sample}")
    if args.chunk_events < 1:
        parser.error(f"--chunk-events must be >= 1, got {args.chunk_events}")
    source_environment = ENVIRONMENT_OF_BUCKET.match(_SOURCE.match(args.source)["bucket"])  # type: ignore[index]
    if source_environment and source_environment["environment"] == args.target and not args.allow_same_environment:
        loop = "replayed events would land in the same bucket and be replayed again"
        parser.error(f"--target {args.target} is the source bucket's environment: {loop} (--allow-same-environment)")
    return args


def target_region(args: argparse.Namespace) -> str:
    if args.target_region:
        return str(args.target_region)
    from runtime.stack import from_stack_file

    stack_file = ROOT / f"Pulumi.{args.target}.yaml"
    if not stack_file.exists():
        raise SystemExit(f"no stack file {stack_file.name}: name the region with --target-region")
    return from_stack_file(stack_file).primary.name


def settings_of(args: argparse.Namespace) -> ReplaySettings:
    region = target_region(args)
    spec = TargetSpec(
        environment=args.target,
        region=region,
        stream=None if args.url else RegionNames(args.target, region).stream("raw"),
        url=args.url,
        multiplier=args.multiplier,
        sample=args.sample,
    )
    return ReplaySettings(
        targets=(spec,),
        salt=args.salt or secrets.token_hex(8),
        region=args.source_region,
        chunk_events=args.chunk_events,
        kinesis_endpoint=args.kinesis_endpoint,
        s3_endpoint=args.s3_endpoint,
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    config = settings_of(args)
    match = _SOURCE.match(args.source)
    assert match is not None  # checked in arguments()
    bucket, prefix = match["bucket"], match["prefix"] or ""
    s3 = s3_client(config)
    objects = list_objects(s3, bucket, prefix, args.from_ms, args.to_ms)
    start = now_ms()
    pace = Pace(args.from_ms, start, args.speed)
    targets = {} if args.dry_run else create_targets(config)
    routes = None if args.dry_run else build_routes(config.targets, config.salt, start - args.from_ms, targets)
    with long_lived_objects_frozen():
        async with running(targets.values()):
            progress = await replay_history(s3, bucket, objects, (args.from_ms, args.to_ms), pace, routes,
                                            config.chunk_events, status_printer())  # fmt: skip
    sys.stderr.write("\n")
    return {
        "objects": progress.objects,
        "events": progress.read.events,
        "malformed": progress.read.malformed,
        "skipped": progress.skipped,
        "sent": progress.sent,
        "events_per_second": round(progress.events_per_second),
        "lag_seconds": progress.lag_ms / 1000,
        "salt": config.salt,
        "target": config.targets[0].name,
        "dry_run": args.dry_run,
    }


def main(argv: list[str] | None = None) -> None:
    summary = asyncio.run(run(arguments(argv)))
    width = max(map(len, summary))
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
