"""One way to retry: the backoff, Retry-After, the attempts of a policy, blocking and on the event loop."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from runtime.retries import (
    FAILED_EVENT_PUTS,
    KINESIS_PUTS,
    PROVISIONER_CALLS,
    REPLAY_URL_POSTS,
    SESSION_WRITES,
    RetryLater,
    RetryPolicy,
    async_retrying,
    backoff_seconds,
    is_retry_later,
    retry_after_seconds,
    retrying,
)

POLICY = RetryPolicy(attempts=4, base_seconds=0.1, cap_seconds=0.3, max_retry_after_seconds=2.0)


@pytest.mark.parametrize("attempt", range(1, 8))
def test_the_backoff_is_full_jitter_under_the_cap(attempt: int) -> None:
    ceiling = min(POLICY.cap_seconds, POLICY.base_seconds * 2 ** (attempt - 1))
    draws = [backoff_seconds(POLICY, attempt) for _ in range(500)]
    assert all(0.0 <= d <= ceiling for d in draws)
    assert max(draws) > ceiling * 0.8 and min(draws) < ceiling * 0.2, "spread over the whole range"


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), (" 0 ", 0.0), (None, None), ("soon", None),
                                                 ("Wed, 21 Oct 2026 07:28:00 GMT", None)])  # fmt: skip
def test_retry_after_is_read_as_seconds_or_left_to_the_backoff(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def _run(policy: RetryPolicy, failures: list[Exception]) -> tuple[int, list[float]]:
    """Attempts made and waits slept until the call succeeded (failures raised in turn first)."""
    sleeps: list[float] = []
    calls = 0
    for attempt in retrying(policy, is_retry_later, sleeps.append):
        with attempt:
            calls += 1
            if failures:
                raise failures.pop(0)
    return calls, sleeps


def test_a_retry_later_is_tried_again_and_its_retry_after_is_waited_at_least() -> None:
    calls, sleeps = _run(POLICY, [RetryLater("429", retry_after=1.5), RetryLater("503")])
    assert calls == 3
    assert 1.5 <= sleeps[0] <= 2.0 and 0.0 <= sleeps[1] <= 0.2


def test_a_retry_after_past_the_policys_cap_is_cut_and_one_not_read_is_ignored() -> None:
    assert _run(POLICY, [RetryLater("429", retry_after=600)])[1] == [2.0]
    ignoring = dataclasses.replace(POLICY, max_retry_after_seconds=0.0)
    assert _run(ignoring, [RetryLater("429", retry_after=600)])[1][0] <= 0.1


def test_the_last_failure_is_raised_as_it_was_once_the_attempts_are_spent() -> None:
    failures: list[Exception] = [RetryLater(f"503 #{n}") for n in range(4)]
    with pytest.raises(RetryLater, match="503 #3"):
        _run(POLICY, failures)


def test_an_error_the_caller_does_not_retry_is_raised_at_once() -> None:
    failures: list[Exception] = [ValueError("a bug, not a busy server")]
    with pytest.raises(ValueError):
        _run(POLICY, failures)
    assert len(failures) == 0


def test_a_coroutine_retries_on_the_event_loop() -> None:
    async def scenario() -> int:
        calls = 0
        async for attempt in async_retrying(dataclasses.replace(POLICY, base_seconds=0.001), is_retry_later):
            with attempt:
                calls += 1
                if calls < 3:
                    raise RetryLater("not yet")
        return calls

    assert asyncio.run(scenario()) == 3


def test_every_caller_has_its_policy() -> None:
    """The table of docs/contributing.md ("Retries"): attempts, base, cap, Retry-After honoured up to."""
    assert [(p.attempts, p.base_seconds, p.cap_seconds, p.max_retry_after_seconds) for p in (
        KINESIS_PUTS, FAILED_EVENT_PUTS, SESSION_WRITES, REPLAY_URL_POSTS, PROVISIONER_CALLS)] == [
        (None, 0.05, 2.0, 0.0), (5, 0.2, 5.0, 0.0), (5, 0.05, 2.0, 5.0), (8, 0.2, 20.0, 20.0), (9, 1.0, 30.0, 30.0),
    ]  # fmt: skip
