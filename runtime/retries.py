"""One way to retry: tenacity, with one policy per caller, and one backoff.

Every caller that waits and tries again names its policy here: how many attempts in all,
the backoff's base and cap, and whether a server's Retry-After is honoured. The wait is
exponential with full jitter (a uniform draw between 0 and min(cap, base x 2^(n-1))
before attempt n+1), so callers that fail together do not come back together; a
Retry-After the server sent is waited at least, up to the policy's cap on it. Which
errors are retried is the caller's to say, as a predicate: only a caller knows which of
its failures a second attempt can cure.

tenacity, not stamina: stamina's backoff is its own fixed formula, and the callers here
need the wait to read the server's Retry-After from the failure; tenacity takes the wait
as a function of the attempt's state, for blocking and asyncio callers alike. The ingest
sink does not wrap a call: it puts the records a call failed back in its queue, to be
re-aggregated with newer events and sent when their time comes, so it keeps that loop
and asks `backoff_seconds` for the time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import tenacity
from botocore.config import Config


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int | None  # calls in all, the first included; None: until the caller stops
    base_seconds: float
    cap_seconds: float
    max_retry_after_seconds: float = 0.0  # 0: a server's Retry-After is not read


class RetryLater(Exception):
    """A failure a later attempt may cure, with the wait the server asked for (seconds), if it did."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# The callers' policies: see docs/contributing.md ("Retries") for the table.
# The sink's: a record is sent again until Kinesis holds it, its request's deadline passes or the service stops.
KINESIS_PUTS = RetryPolicy(attempts=None, base_seconds=0.05, cap_seconds=2.0)
FAILED_EVENT_PUTS = RetryPolicy(attempts=5, base_seconds=0.2, cap_seconds=5.0)
SESSION_WRITES = RetryPolicy(attempts=5, base_seconds=0.05, cap_seconds=2.0, max_retry_after_seconds=5.0)
REPLAY_URL_POSTS = RetryPolicy(attempts=8, base_seconds=0.2, cap_seconds=20.0, max_retry_after_seconds=20.0)
PROVISIONER_CALLS = RetryPolicy(attempts=9, base_seconds=1.0, cap_seconds=30.0, max_retry_after_seconds=30.0)


def one_attempt_config(pool: int, read_timeout: float = 5.0) -> Config:
    """A botocore client's configuration where the caller retries (by a policy here): one attempt each."""
    return Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=pool,
                  connect_timeout=2, read_timeout=read_timeout, tcp_keepalive=True)  # fmt: skip


def backoff_seconds(policy: RetryPolicy, attempt: int) -> float:
    """The wait after failed attempt `attempt` (1 for the first): full jitter under the cap."""
    return random.uniform(0.0, min(policy.cap_seconds, policy.base_seconds * 2 ** (attempt - 1)))


def retry_after_seconds(header: str | None) -> float | None:
    """A Retry-After header's delay in seconds; None when absent or an HTTP date (the backoff decides)."""
    if header is None or not header.strip().isdigit():
        return None
    return float(header.strip())


def _stop(policy: RetryPolicy) -> tenacity.stop.stop_base:
    return tenacity.stop_never if policy.attempts is None else tenacity.stop_after_attempt(policy.attempts)


def _wait(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    def wait(state: tenacity.RetryCallState) -> float:
        backoff = backoff_seconds(policy, state.attempt_number)
        error = state.outcome.exception() if state.outcome is not None else None
        if policy.max_retry_after_seconds and isinstance(error, RetryLater) and error.retry_after is not None:
            return max(backoff, min(error.retry_after, policy.max_retry_after_seconds))
        return backoff

    return wait


def retrying(
    policy: RetryPolicy, retry_on: Callable[[BaseException], bool], sleep: Callable[[float], None] = time.sleep
) -> tenacity.Retrying:
    """Attempts of a blocking call: `for attempt in retrying(...): with attempt: ...`. The last
    failure is raised as it was."""
    return tenacity.Retrying(
        stop=_stop(policy),
        wait=_wait(policy),
        retry=tenacity.retry_if_exception(retry_on),
        reraise=True,
        sleep=sleep,
    )


def async_retrying(policy: RetryPolicy, retry_on: Callable[[BaseException], bool]) -> tenacity.AsyncRetrying:
    """Attempts of a coroutine's call, waiting on the event loop: `async for attempt in ...`."""
    return tenacity.AsyncRetrying(
        stop=_stop(policy),
        wait=_wait(policy),
        retry=tenacity.retry_if_exception(retry_on),
        reraise=True,
    )


def is_retry_later(error: BaseException) -> bool:
    return isinstance(error, RetryLater)
