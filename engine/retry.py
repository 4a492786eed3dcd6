"""Retry and Catch as pure functions: which rule handles an error, and how long to back off."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.compile import Catcher, Retrier
from engine.errors import error_matches


def find_retrier(retriers: Sequence[Retrier], error_name: str | None) -> int | None:
    """Index of the first Retrier whose ErrorEquals matches, or None."""
    for index, retrier in enumerate(retriers):
        if error_matches(retrier.error_equals, error_name):
            return index
    return None


def retry_delay(retrier: Retrier, retries_done: int, random: Callable[[], float]) -> float:
    """Seconds to wait before retry number `retries_done + 1`.

    IntervalSeconds × BackoffRate^retries, capped by MaxDelaySeconds; with JitterStrategy FULL a
    uniformly random fraction of that ("full jitter"), so that retries of many executions spread out.
    """
    delay = retrier.interval_seconds * (retrier.backoff_rate ** retries_done)
    if retrier.max_delay_seconds is not None:
        delay = min(delay, retrier.max_delay_seconds)
    if retrier.jitter_full:
        delay *= random()
    return delay


def find_catcher(catchers: Sequence[Catcher], error_name: str | None) -> Catcher | None:
    for catcher in catchers:
        if error_matches(catcher.error_equals, error_name):
            return catcher
    return None
