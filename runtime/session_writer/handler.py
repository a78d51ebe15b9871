"""The Lambda on the session stream: Kinesis batch in, session records into the store, failures reported.

Every record of the batch is parsed first (a malformed one fails alone, logged with
the reason); the session records of the whole invocation are then written at once,
so the store fills its WriteRecords calls; a Kinesis record fails when any of its
session records was not written. The response's ``batchItemFailures`` (powertools'
batch processing) make Lambda retry only from the first failed record; replays are
harmless because a row's Version is the session record's version. Malformed records
keep failing, so the event source's bisection and on-failure destination take them
out of the way.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime.session_writer.influxdb import InfluxCredentials, InfluxStore
from runtime.session_writer.records import MalformedRecord, SessionRecord, kinesis_session_records
from runtime.session_writer.settings import InfluxTarget, load_settings
from runtime.session_writer.store import SessionRecordStore
from runtime.session_writer.timestream import TimestreamStore

logger = Logger(service="session-writer")
metrics = Metrics(namespace="prism", service="session-writer")


class WriteFailed(Exception):
    """The store did not take a session record of this Kinesis record."""


class SessionRecordBatch(BatchProcessor):
    """Parse record by record, then write the whole invocation's session records in one go."""

    def __init__(self, store: SessionRecordStore) -> None:
        super().__init__(event_type=EventType.KinesisDataStreams)
        self.store = store

    def process(self) -> list[tuple[Any, ...]]:
        results = super().process()
        parsed = [(r[2], session) for r in results if r[0] == "success" for session in r[1]]
        metrics.add_metric(name="SessionRecordsIn", unit=MetricUnit.Count, value=len(parsed))
        if not parsed:
            return results
        started = time.perf_counter()
        outcome = self.store.write([session for _, session in parsed])
        metrics.add_metric(
            name="WriteLatency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1e3
        )
        metrics.add_metric(name="SessionRecordsWritten", unit=MetricUnit.Count, value=outcome.written)
        metrics.add_metric(name="SessionRecordsSuperseded", unit=MetricUnit.Count, value=outcome.superseded)
        metrics.add_metric(name="SessionRecordsFailed", unit=MetricUnit.Count, value=len(outcome.failed))
        metrics.add_metric(name="WriteRecordsCalls", unit=MetricUnit.Count, value=outcome.calls)
        metrics.add_metric(name="WriteRecordsThrottled", unit=MetricUnit.Count, value=outcome.throttled)
        failed_kinesis_records: dict[str, tuple[Any, str]] = {}
        for position, reason in sorted(outcome.failed.items()):
            record = parsed[position][0]
            failed_kinesis_records.setdefault(record["kinesis"]["sequenceNumber"], (record, reason))
        for sequence_number, (record, reason) in failed_kinesis_records.items():
            logger.warning("session record not written", sequence_number=sequence_number, reason=reason)
            error = WriteFailed(reason)
            # Failures are reported as the event's data class, successes carry the raw record.
            self.failure_handler(KinesisStreamRecord(record), (WriteFailed, error, error.__traceback__))
        return results


def parse_record(record: KinesisStreamRecord) -> list[SessionRecord]:
    try:
        return list(kinesis_session_records(record.raw_event))
    except MalformedRecord as error:
        metrics.add_metric(name="MalformedRecords", unit=MetricUnit.Count, value=1)
        logger.warning("malformed session record", sequence_number=record.kinesis.sequence_number, reason=str(error))
        raise


@functools.cache
def default_store() -> SessionRecordStore:
    """One store per Lambda environment, reused by warm invocations."""
    settings = load_settings()
    target = settings.target
    if isinstance(target, InfluxTarget):
        credentials = InfluxCredentials()
        if target.credentials_secret is not None:
            secrets = boto3.client("secretsmanager", region_name=settings.region)
            credentials = InfluxCredentials.from_secret(
                secrets.get_secret_value(SecretId=target.credentials_secret)["SecretString"]
            )
        return InfluxStore(target.url, target.database, credentials, settings.max_parallel_calls, settings.max_attempts)
    client = boto3.client("timestream-write", region_name=settings.region, endpoint_url=target.endpoint)
    return TimestreamStore(client, target.database, target.table, settings.max_parallel_calls, settings.max_attempts)


def handle(event: dict[str, Any], context: LambdaContext | None, store: SessionRecordStore) -> dict[str, Any]:
    records = event.get("Records", [])
    metrics.add_metric(name="KinesisRecordsIn", unit=MetricUnit.Count, value=len(records))
    response = process_partial_response(
        event=event, record_handler=parse_record, processor=SessionRecordBatch(store), context=context
    )
    return dict(response)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, default_store())
