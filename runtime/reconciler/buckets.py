"""What the reconciler reads from a region's buckets: JSON lines of the objects under a kind's prefix.

Firehose writes newline-delimited JSON objects that never change once written, and two-way
replication puts the other region's objects beside them under the same keys. An object is
read once: each pass reads only what arrived since the last one, and the reader keeps what
it needs of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from runtime.names import DeliveryKind, data_prefix, literal_head


def object_keys(s3: Any, bucket: str, prefix: str = "") -> Iterator[str]:
    """Every key of a bucket under a prefix, page by page."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from (item["Key"] for item in page.get("Contents", []))


class BucketLines:
    def __init__(self, s3: Any, bucket: str, kind: DeliveryKind) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = literal_head(data_prefix(kind))
        self._read: set[str] = set()  # keys already read

    def refresh(self) -> list[dict[str, Any]]:
        """The documents of the objects that arrived since the last call."""
        arrived = []
        for key in object_keys(self.s3, self.bucket, self.prefix):
            if key not in self._read:
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                arrived += [json.loads(line) for line in body.splitlines() if line.strip()]
                self._read.add(key)
        return arrived
