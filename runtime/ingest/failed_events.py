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
import time
from typing import Any, Protocol

from runtime.ingest.metrics import IngestMetrics
from runtime.retries import FAILED_EVENT_PUTS, RetryLater, async_retrying, is_retry_later

log = logging.getLogger("prism.ingest.failed_events")

_BATCH_RECORDS = 500  # PutRecordBatch limit
_BATCH_BYTES = 4 * 1024 * 1024  # PutRecordBatch limit


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

    async def _put(self, documents: list[bytes]) -> list[bytes]:
        """The documents Firehose did not take: those it refused, or all of them when the call failed."""
        try:
            response = await asyncio.to_thread(
                self.client.put_record_batch,  # type: ignore[union-attr]
                DeliveryStreamName=self.stream_name,
                Records=[{"Data": document} for document in documents],
            )
            results = response.get("RequestResponses", [])
            refused = [d for d, r in zip(documents, results, strict=True) if "ErrorCode" in r]
        except Exception as error:
            log.warning("failed_events_put_failed", extra={"error": str(error), "records": len(documents)})
            refused = documents
        self.metrics.failed_events_delivered.inc(len(documents) - len(refused))
        return refused

    async def _deliver(self, batch: list[bytes]) -> None:
        pending = batch
        try:
            async for attempt in async_retrying(FAILED_EVENT_PUTS, is_retry_later):
                with attempt:
                    pending = await self._put(pending)
                    if pending:
                        raise RetryLater(f"Firehose did not take {len(pending)} failed events")
            return
        except RetryLater:
            pass  # every attempt is spent: what is left goes to the log
        for document in pending:
            self._log(document, "firehose_failed")
