"""The session store on Timestream for LiveAnalytics: WriteRecords of up to 100 rows, in parallel.

- A batch is cut into WriteRecords calls of up to 100 rows (the API's limit), sent by
  a bounded pool of threads (the client is thread-safe; boto3 does the endpoint
  discovery Timestream requires).
- Throttling and server errors are retried (runtime/retries.py, SESSION_WRITES: exponential backoff, full jitter),
  up to ``max_attempts`` calls; then the rows of that call fail.
- RejectedRecordsException writes the other rows; a rejected row whose
  ``ExistingVersion`` is at least ours is superseded (the table already has data as
  new), which is success; any other rejection fails that row with Timestream's reason.
- Any other error (validation, access, missing table) fails the call's rows at once.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from runtime.retries import SESSION_WRITES, retrying
from runtime.session_writer.records import SessionRecord, timestream_row
from runtime.session_writer.store import WriteOutcome

MAX_ROWS_PER_CALL = 100
RETRIED_ERRORS = frozenset({"ThrottlingException", "InternalServerException", "ServiceUnavailableException"})


class TimestreamStore:
    def __init__(
        self,
        client: Any,
        database: str,
        table: str,
        max_parallel_calls: int = 4,
        max_attempts: int = 5,
        backoff_base_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._database = database
        self._table = table
        self._policy = dataclasses.replace(SESSION_WRITES, attempts=max_attempts, base_seconds=backoff_base_seconds)
        self._sleep = sleep
        self._pool = ThreadPoolExecutor(max_workers=max_parallel_calls, thread_name_prefix="write-records")

    def write(self, records: Sequence[SessionRecord]) -> WriteOutcome:
        calls = [
            (
                list(range(start, min(start + MAX_ROWS_PER_CALL, len(records)))),
                records[start : start + MAX_ROWS_PER_CALL],
            )
            for start in range(0, len(records), MAX_ROWS_PER_CALL)
        ]
        outcome = WriteOutcome()
        for part in self._pool.map(lambda call: self._write_call(*call), calls):
            outcome.failed.update(part.failed)
            outcome.written += part.written
            outcome.superseded += part.superseded
            outcome.calls += part.calls
            outcome.throttled += part.throttled
        return outcome

    def _write_call(self, positions: list[int], records: Sequence[SessionRecord]) -> WriteOutcome:
        outcome = WriteOutcome()
        rows = [timestream_row(record) for record in records]
        try:
            for attempt in retrying(self._policy, _retried, self._sleep):
                with attempt:
                    outcome.calls += 1
                    outcome.throttled += attempt.retry_state.attempt_number > 1
                    self._client.write_records(DatabaseName=self._database, TableName=self._table, Records=rows)
        except ClientError as error:
            code = _code(error)
            if code == "RejectedRecordsException":
                self._classify_rejections(error.response.get("RejectedRecords", []), positions, records, outcome)
                return outcome
            message = error.response.get("Error", {}).get("Message", "")
            outcome.failed.update({position: f"{code}: {message}".strip(": ") for position in positions})
            return outcome
        outcome.written += len(rows)
        return outcome

    @staticmethod
    def _classify_rejections(
        rejected: list[dict[str, Any]], positions: list[int], records: Sequence[SessionRecord], outcome: WriteOutcome
    ) -> None:
        refused = set()
        for rejection in rejected:
            index = int(rejection["RecordIndex"])
            refused.add(index)
            existing = rejection.get("ExistingVersion")
            if existing is not None and int(existing) >= records[index].version:
                outcome.superseded += 1
            else:
                outcome.failed[positions[index]] = str(rejection.get("Reason", "rejected"))
        outcome.written += len(records) - len(refused)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _retried(error: BaseException) -> bool:
    """Throttling and Timestream's own failures: a later attempt may succeed."""
    return isinstance(error, ClientError) and _code(error) in RETRIED_ERRORS
