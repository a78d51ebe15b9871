"""The reconciler Lambda of a region: new session-bucket objects in, the region's share of moved sessions out.

The session bucket tells EventBridge of every object created in it, the region's own and
the other region's replicas alike; a rule puts them on a queue that holds each back for
``reconciler.settleDelaySeconds``, so the other region's objects of the same moment have
replicated by the time it is read. Per batch of objects:

1. each object's ended records (finals, and moved rows) go into the parts table, which
   answers with each session's parts in every region (an object that cannot be read fails
   alone: powertools' partial batch response, and SQS gives it again later);
2. the sessions with ended parts in two regions, one of them this region's, are due: their
   raw and late events are searched in the archive (Athena), and moves.py makes the records;
3. this region's share goes into its session stream, after which the session writer stores
   it and the session Firehose lands it, and the next object that names the session finds
   nothing more to do.

Anything that fails in steps 2 and 3 fails the invocation: every object of the batch is read
again later (the table's updates and the records written are the same the second time).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from runtime.firehose_objects import open_lines, open_object
from runtime.reconciler import metrics as names
from runtime.reconciler.archive_search import ArchiveSearch
from runtime.reconciler.moves import SessionParts
from runtime.reconciler.parts_table import PARALLEL_CALLS, PartsTable, ended
from runtime.reconciler.reconcile import due_here, put_records, region_share
from runtime.reconciler.settings import ReconcilerSettings, load_settings

logger = Logger(service=names.SERVICE)
metrics = Metrics(namespace=names.NAMESPACE, service=names.SERVICE)

Parts = dict[str, Mapping[str, Any]]  # region -> its newest ended record of a session


@dataclass(frozen=True)
class Clients:
    s3: Any
    dynamodb: Any
    athena: Any
    kinesis: Any

    @classmethod
    def of(cls, settings: ReconcilerSettings) -> Clients:
        """The region's clients (an endpoint only for local stand-ins)."""

        # As many connections as the parts table has calls in flight.
        config = Config(max_pool_connections=PARALLEL_CALLS)

        def client(service: str) -> Any:
            return boto3.client(service, region_name=settings.region, endpoint_url=settings.aws_endpoint, config=config)

        return cls(client("s3"), client("dynamodb"), client("athena"), client("kinesis"))


def object_of(body: str) -> tuple[str, str]:
    """(bucket, key) of an EventBridge S3 "Object Created" event, as the rule put it on the queue."""
    detail = json.loads(body)["detail"]
    return detail["bucket"]["name"], detail["object"]["key"]


def ended_records(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    """The ended records of a session-bucket object (gzip or plain, streamed)."""
    records = []
    for line in open_lines(open_object(s3, bucket, key)):
        if line.strip():
            record = json.loads(line)
            if isinstance(record, dict) and ended(record):
                records.append(record)
    return records


class ReconcileBatch(BatchProcessor):
    """Reads the batch's objects one by one (partial failures), then reconciles what they made due."""

    def __init__(self, settings: ReconcilerSettings, clients: Clients) -> None:
        super().__init__(event_type=EventType.SQS)
        self.settings = settings
        self.clients = clients
        self.table = PartsTable(clients.dynamodb, settings.parts_table, settings.parts_retention_days)
        self.search = ArchiveSearch(clients.athena, settings.workgroup, settings.archive_database,
                                    settings.search_margin_minutes)  # fmt: skip
        self.sessions: dict[str, Parts] = {}
        self.ended_read = 0

    def read_object(self, record: SQSRecord) -> int:
        bucket, key = object_of(record.body)
        records = ended_records(self.clients.s3, bucket, key)
        self.sessions.update(self.table.keep_all(records))
        self.ended_read += len(records)
        return len(records)

    def process(self) -> list[tuple[Any, ...]]:
        results = super().process()
        region = self.settings.region
        split = [SessionParts(sid, parts) for sid, parts in sorted(self.sessions.items()) if len(parts) > 1]
        due = due_here(region, split)
        metrics.add_metric(name=names.ENDED_RECORDS_READ, unit=MetricUnit.Count, value=self.ended_read)
        metrics.add_metric(name=names.MOVED_SESSIONS_DUE, unit=MetricUnit.Count, value=len(due))
        if not due:
            return results
        found = self.search.find(due)
        out = region_share(region, due, found.events, found.late, self.settings.session_settings)
        put_records(self.clients.kinesis, self.settings.session_stream, out)
        metrics.add_metric(name=names.ARCHIVE_SEARCHES, unit=MetricUnit.Count, value=self.search.queries)
        metrics.add_metric(name=names.RECORDS_WRITTEN, unit=MetricUnit.Count, value=len(out))
        logger.info("reconciled", extra={"due": len(due), "written": len(out), "searches": self.search.queries,
                                         "sessions": [parts.session_id for parts in due][:50]})  # fmt: skip
        return results


def handle(event: dict[str, Any], context: LambdaContext | None, settings: ReconcilerSettings,
           clients: Clients) -> dict[str, Any]:  # fmt: skip
    batch = ReconcileBatch(settings, clients)
    response = process_partial_response(event=event, record_handler=batch.read_object, processor=batch,
                                        context=context)  # fmt: skip
    return dict(response)


@functools.cache
def configured() -> tuple[ReconcilerSettings, Clients]:
    settings = load_settings()
    return settings, Clients.of(settings)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, *configured())
