"""The live replayer: each object created in the source bucket is fired to every enabled target.

EventBridge delivers S3 "Object Created" events; the function replays the object and
returns once every target holds its events. Anything that fails (S3, a target that stays
unavailable) fails the invocation: Lambda retries it, then sends the event, which names
the bucket and the object key, to the on-failure queue. No object is skipped silently.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from aws_lambda_powertools import Logger

from runtime.firehose_objects import open_object
from runtime.replay.clients import create_targets, s3_client
from runtime.replay.replay import ObjectResult, build_routes, long_lived_objects_frozen, replay_object
from runtime.replay.settings import ReplaySettings, load_settings
from runtime.replay.targets import running

logger = Logger(service="replayer")


@functools.cache
def settings() -> ReplaySettings:
    return load_settings()


def object_of(event: dict[str, Any]) -> tuple[str, str]:
    """(bucket, key) of an EventBridge S3 event."""
    detail = event["detail"]
    return detail["bucket"]["name"], detail["object"]["key"]


async def replay(config: ReplaySettings, key: str, body: Any) -> tuple[ObjectResult, dict[str, dict[str, int]]]:
    targets = create_targets(config)
    with long_lived_objects_frozen():
        async with running(targets.values()):
            result = await replay_object(
                key, body, lambda shift: build_routes(config.targets, config.salt, shift, targets), config.chunk_events
            )
    per_target = {name: {"sent": t.sent, "rejected": t.rejected} for name, t in targets.items()}
    return result, per_target


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    bucket, key = object_of(event)
    body = open_object(s3_client(config), bucket, key)
    result, per_target = asyncio.run(replay(config, key, body))
    summary = {
        "bucket": bucket,
        "key": key,
        "lines": result.read.lines,
        "events": result.read.events,
        "malformed": result.read.malformed,
        "sent": result.sent,
        "targets": per_target,
    }
    logger.info("object_replayed", extra=summary)
    return summary
