"""Two-way bucket replication for a local run of both regions, as S3 replication does it on AWS.

On AWS every bucket of a region replicates to the bucket of the same kind in the other
region (components/storage.py), under the same key. Locally one thread per source region
copies each object it has not copied yet to the other region's bucket, and never copies
back what it put there, as S3 never replicates a replica. It is a part of its source
region: it stops when that region is down and, restarted, copies what is still missing.
The reconciler (runtime/reconciler) reads a region's buckets and relies on them holding
both regions' objects.
"""

from __future__ import annotations

import threading
from typing import Any

from runtime.local.relay import RelayStats, ThreadLoop
from runtime.local.resources import RegionResources
from runtime.reconciler.buckets import object_keys

REPLICATION_POLL_SECONDS = 1.0


class Replicas:
    """(bucket, key) of every object a replication put: what neither direction copies again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._copied: set[tuple[str, str]] = set()

    def add(self, bucket: str, key: str) -> None:
        with self._lock:
            self._copied.add((bucket, key))

    def __contains__(self, item: object) -> bool:
        with self._lock:
            return item in self._copied


class Replication(ThreadLoop):
    def __init__(self, s3: Any, source: RegionResources, destination: RegionResources, replicas: Replicas,
                 stats: RelayStats | None = None) -> None:  # fmt: skip
        self.s3 = s3  # moto's S3 answers for every region
        self.source = source
        self.destination = destination
        self.replicas = replicas
        super().__init__(
            f"replication-{source.region.code}", self.copy_new, stats or RelayStats(), REPLICATION_POLL_SECONDS
        )

    def copy_new(self) -> None:
        """Copies what the source region's buckets have that the other region's do not."""
        for kind, bucket in self.source.buckets.items():
            target = self.destination.buckets[kind]
            for key in object_keys(self.s3, bucket):
                if (bucket, key) in self.replicas or (target, key) in self.replicas:
                    continue  # a replica, or already copied
                self.s3.copy_object(Bucket=target, Key=key, CopySource={"Bucket": bucket, "Key": key})
                self.replicas.add(target, key)
                self.stats.user_records += 1

    def restarted(self) -> Replication:
        return Replication(self.s3, self.source, self.destination, self.replicas, self.stats)
