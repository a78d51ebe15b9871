"""What the reconciler reads from a region's buckets: JSON lines of the objects under a kind's prefix.

Firehose writes newline-delimited JSON objects that never change once written, and two-way
replication puts the other region's objects beside them under the same keys. An object is
read once and its lines kept, so each pass reads only what arrived since the last one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from runtime.names import DeliveryKind, data_prefix, literal_head


class BucketLines:
    def __init__(self, s3: Any, bucket: str, kind: DeliveryKind) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = literal_head(data_prefix(kind))
        self._read: dict[str, list[dict[str, Any]]] = {}  # key -> its documents

    def refresh(self) -> list[dict[str, Any]]:
        """The documents of the objects that arrived since the last call."""
        arrived = []
        for key in self._keys():
            if key not in self._read:
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                self._read[key] = [json.loads(line) for line in body.splitlines() if line.strip()]
                arrived += self._read[key]
        return arrived

    def documents(self) -> Iterator[dict[str, Any]]:
        """Every document read so far."""
        for documents in self._read.values():
            yield from documents

    def _keys(self) -> Iterator[str]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            yield from (item["Key"] for item in page.get("Contents", []))
