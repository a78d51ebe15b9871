"""Rejected events and unusable bodies go to the failed-events Firehose, never nowhere.

The Firehose (direct put, declared by the ingest infrastructure) lands them under the
raw bucket's ``failed/`` prefix, one JSON document per line: the reason, the request
context and the original bytes (truncated to a stated limit). Writing is in the
background, batched with PutRecordBatch and retried; when no Firehose is configured
(local runs) or it keeps failing, the document is written to the log instead, which
CloudWatch Logs keeps.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import time
from typing import Any, Protocol

from runtime.ingest.metrics import IngestMetrics

log = logging.getLogger("prism.ingest.failed_events")

_BATCH_RECORDS = 500  # PutRecordBatch limit
_BATCH_BYTES = 4 * 1024 * 1024  # PutRecordBatch limit
_ATTEMPTS = 5


class FirehoseClient(Protocol):
    def put_record_batch(self, *, DeliveryStreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]: ...


def failed_event_document(
    reason: str,
    details: list[dict[str, Any]],
    original: bytes,
    max_bytes: int,
    context: dict[str, Any],
    original_size: int | None = None,  # when `original` is only the part of the body that was read
) -> bytes:
    size = len(original) if original_size is None else max(original_size, len(original))
    kept = original[:max_bytes]
    document: dict[str, Any] = {
        "failedAt": int(time.time() * 1000),
        "reason": reason,
        "details": details,
        **context,
        "originalBytes": size,
        "truncated": size > len(kept),
    }
    try:
        document["original"] = kept.decode()
    except UnicodeDecodeError:
        document["originalBase64"] = base64.b64encode(kept).decode()
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


class FailedEventsSink:
    def __init__(self, client: FirehoseClient | None, stream_name: str | None, metrics: IngestMetrics) -> None:
        self.client = client if stream_name else None
        self.stream_name = stream_name or ""
        self.metrics = metrics
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.client is not None:
            self._task = asyncio.create_task(self._deliver_loop(), name="failed-events")

    async def stop(self, drain_seconds: float) -> None:
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_seconds)
        self._task.cancel()
        while not self._queue.empty():
            self._log(self._queue.get_nowait(), "shutdown")

    def record(self, document: bytes) -> None:
        if self.client is None:
            self._log(document, "no_firehose_configured")
            return
        self._queue.put_nowait(document)

    def _log(self, document: bytes, why: str) -> None:
        self.metrics.failed_events_logged.inc()
        log.warning("failed_event", extra={"why": why, "failed_event": json.loads(document)})

    async def _deliver_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0])
            while not self._queue.empty() and len(batch) < _BATCH_RECORDS:
                document = self._queue.get_nowait()
                if size + len(document) > _BATCH_BYTES:
                    self._queue.put_nowait(document)  # next batch
                    self._queue.task_done()
                    break
                batch.append(document)
                size += len(document)
            try:
                await self._deliver(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _deliver(self, batch: list[bytes]) -> None:
        pending = batch
        for attempt in range(_ATTEMPTS):
            try:
                response = await asyncio.to_thread(
                    self.client.put_record_batch,  # type: ignore[union-attr]
                    DeliveryStreamName=self.stream_name,
                    Records=[{"Data": document} for document in pending],
                )
                results = response.get("RequestResponses", [])
                retry = [d for d, r in zip(pending, results, strict=True) if "ErrorCode" in r]
            except Exception as error:
                log.warning("failed_events_put_failed", extra={"error": str(error), "records": len(pending)})
                retry = pending
            self.metrics.failed_events_delivered.inc(len(pending) - len(retry))
            if not retry:
                return
            pending = retry
            await asyncio.sleep(random.uniform(0.1, 0.2) * 2**attempt)
        for document in pending:
            self._log(document, "firehose_failed")
