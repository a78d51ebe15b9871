"""The session store on InfluxDB: line protocol through the v1-compatible ``/write`` endpoint.

Timestream for InfluxDB and InfluxDB 1.x both serve ``POST /write?db=<database>&precision=ms``.

- A record is its ``sessions`` point, plus its ``session_starts`` point once it has a
  startup time (records.py). A batch is first reduced to one record per point: InfluxDB keeps one point per series
  (measurement and tags) and timestamp, the last one written, so of the records of a
  session at the same ``updateTime`` only the highest version is written. Across batches
  the event source mapping keeps the order: a session's records share a partition key
  (its id), one shard hands them over in order, and a failed batch is retried before
  anything after it. So a lower version never lands after a higher one.
- Calls of up to ``MAX_LINES_PER_CALL`` lines, sent by a bounded pool of threads (no two
  lines of a batch are the same point, so their order does not matter).
- 429, 5xx and connection errors are retried (runtime/retries.py, SESSION_WRITES: exponential
  backoff with full jitter, at least what ``Retry-After`` asks), up to ``max_attempts`` calls;
  then the call's records fail.
- 400 means InfluxDB refused some point (a field type conflict, say) and wrote the rest:
  the call is split in halves and each written again, down to the single point, which
  then fails alone with InfluxDB's message. A point written twice is the same point.
- Any other answer (401, 403, 404: credentials, a missing database) fails the call's
  records at once with InfluxDB's answer.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

import urllib3

from runtime.retries import SESSION_WRITES, RetryLater, is_retry_later, retry_after_seconds, retrying
from runtime.session_writer.records import SessionRecord, influx_lines
from runtime.session_writer.store import WriteOutcome

MAX_LINES_PER_CALL = 5_000  # InfluxDB's recommended batch
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class InfluxCredentials:
    """A v1 user and password (InfluxDB 1.x, or a v1 authorization of InfluxDB 2), or an API token."""

    username: str | None = None
    password: str | None = None
    token: str | None = None

    @classmethod
    def from_secret(cls, text: str) -> InfluxCredentials:
        """A Secrets Manager secret's JSON: {"token": ...} or {"username": ..., "password": ...}."""
        try:
            values = json.loads(text)
        except ValueError:
            raise ValueError("the InfluxDB credentials secret is not JSON") from None
        if not isinstance(values, dict) or not (values.get("token") or values.get("username")):
            raise ValueError('the InfluxDB credentials secret needs "token", or "username" and "password"')
        return cls(values.get("username"), values.get("password"), values.get("token"))

    def header(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Token {self.token}"}
        if self.username:
            pair = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        return {}


@dataclass
class _Call:
    positions: list[int]
    lines: list[bytes]


class InfluxStore:
    def __init__(
        self,
        url: str,
        database: str,
        credentials: InfluxCredentials = InfluxCredentials(),
        max_parallel_calls: int = 4,
        max_attempts: int = 5,
        backoff_base_seconds: float = 0.05,
        timeout_seconds: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._endpoint = f"{url.rstrip('/')}/write?{urlencode({'db': database, 'precision': 'ms'})}"
        self._headers = {"Content-Type": "text/plain; charset=utf-8", **credentials.header()}
        self._http = urllib3.PoolManager(
            maxsize=max_parallel_calls, retries=False, timeout=urllib3.Timeout(total=timeout_seconds)
        )
        self._policy = dataclasses.replace(SESSION_WRITES, attempts=max_attempts, base_seconds=backoff_base_seconds)
        self._sleep = sleep
        self._pool = ThreadPoolExecutor(max_workers=max_parallel_calls, thread_name_prefix="influx-write")

    def write(self, records: Sequence[SessionRecord]) -> WriteOutcome:
        outcome = WriteOutcome()
        newest: dict[tuple[str, int], int] = {}  # point -> position of its highest version
        for position, record in enumerate(records):
            point = (record.session_id, record.update_time_ms)
            kept = newest.setdefault(point, position)
            if kept != position:  # two records of one point: the lower version is superseded
                outcome.superseded += 1
                if record.version >= records[kept].version:
                    newest[point] = position
        positions, lines = [], []  # a line's record, for each line
        for position in sorted(newest.values()):
            for line in influx_lines(records[position]):
                positions.append(position)
                lines.append(line)
        calls = [
            _Call(positions[start : start + MAX_LINES_PER_CALL], lines[start : start + MAX_LINES_PER_CALL])
            for start in range(0, len(positions), MAX_LINES_PER_CALL)
        ]
        for part in self._pool.map(self._write_call, calls):
            outcome.failed.update(part.failed)
            outcome.written += part.written
            outcome.calls += part.calls
            outcome.throttled += part.throttled
        return outcome

    def _write_call(self, call: _Call) -> WriteOutcome:
        outcome = WriteOutcome()
        written: set[int] = set()  # records some of whose lines were taken
        pending = [call]
        while pending:
            current = pending.pop()
            status, message = self._post(current, outcome)
            if status == 204:
                written.update(current.positions)
            elif status == 400 and len(current.lines) > 1:
                middle = len(current.lines) // 2
                pending.append(_Call(current.positions[middle:], current.lines[middle:]))
                pending.append(_Call(current.positions[:middle], current.lines[:middle]))
            else:
                outcome.failed.update(dict.fromkeys(current.positions, message))
        outcome.written = len(written - outcome.failed.keys())  # a record is written when all its lines are
        return outcome

    def _post(self, call: _Call, outcome: WriteOutcome) -> tuple[int, str]:
        """(status, InfluxDB's message) of the call's last attempt; 0 when it was never answered."""
        body = b"\n".join(call.lines)
        try:
            for attempt in retrying(self._policy, is_retry_later, self._sleep):
                with attempt:
                    outcome.calls += 1
                    outcome.throttled += attempt.retry_state.attempt_number > 1
                    return self._post_once(body)
        except _Refused as refused:
            return refused.status, str(refused)
        raise AssertionError("not reached: the last attempt returns or raises")

    def _post_once(self, body: bytes) -> tuple[int, str]:
        try:
            response = self._http.request("POST", self._endpoint, body=body, headers=self._headers)
        except urllib3.exceptions.HTTPError as error:
            raise _Refused(0, f"InfluxDB unreachable: {error}") from None
        if response.status in RETRIED_STATUSES:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise _Refused(response.status, _message(response), wait)
        return response.status, _message(response)


def _message(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data.decode("utf-8", "replace").strip()
    return f"InfluxDB {response.status}: {text[:500]}" if text else f"InfluxDB {response.status}"


class _Refused(RetryLater):
    """An answer a later attempt may change (429, 5xx), or no answer (status 0)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after)
        self.status = status
