"""Each region's newest final record of every session, for a few days: how the reconciler on AWS
finds the sessions with parts in two regions without listing a bucket.

One DynamoDB item per session id. A region's part is two attributes, ``part:<region>`` (the
record, as JSON) and ``version:<region>``; an update keeps a record only if it is newer than
the part it replaces, and answers with the whole item, so one call tells whether the session
has parts elsewhere. Items expire (DynamoDB TTL on ``expiresAt``) once no part of the session
can still arrive.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from runtime.events import MOVED_STATE

# Calls in flight at once: an object holds thousands of final records, a call takes milliseconds.
PARALLEL_CALLS: Final = 32
SESSION_KEY: Final = "sessionId"  # the table's partition key
EXPIRES_AT: Final = "expiresAt"  # the table's TTL attribute: epoch seconds
_PART, _VERSION = "part:", "version:"


def ended(record: Mapping[str, Any]) -> bool:
    """A record that ends a region's part: its final record, or the moved row that replaced it."""
    return record.get("final") is True or record.get("state") == MOVED_STATE


class PartsTable:
    def __init__(self, dynamodb: Any, table: str, retention_days: int, clock: Callable[[], float] = time.time) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.retention_seconds = retention_days * 86_400
        self.clock = clock

    def keep(self, record: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        """Keeps a region's ended record if newer than its part; the session's parts afterwards, region -> record."""
        session_id, region = str(record["sessionId"]), str(record["region"])
        names = {"#part": _PART + region, "#version": _VERSION + region, "#expires": EXPIRES_AT}
        key = {SESSION_KEY: {"S": session_id}}
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #part = :part, #version = :version, #expires = :expires",
                ConditionExpression="attribute_not_exists(#version) OR #version < :version",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":part": {"S": json.dumps(record, separators=(",", ":"))},
                    ":version": {"N": str(int(record["version"]))},
                    ":expires": {"N": str(int(self.clock()) + self.retention_seconds)},
                },
                ReturnValues="ALL_NEW",
            )
            item = answer["Attributes"]
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            # Not newer (read before, or a copy): the session is still looked at, since the pass that
            # kept it may have stopped before it reconciled.
            item = self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
        return parts_of(item)

    def keep_all(self, records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
        """keep() for many records at once; session id -> its parts after the last of its records."""
        records = list(records)
        with ThreadPoolExecutor(PARALLEL_CALLS) as pool:
            answers = list(pool.map(self.keep, records))
        return {str(record["sessionId"]): parts for record, parts in zip(records, answers, strict=True)}


def parts_of(item: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {name[len(_PART) :]: json.loads(value["S"]) for name, value in item.items() if name.startswith(_PART)}
