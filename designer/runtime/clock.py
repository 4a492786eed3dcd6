"""Time: execution time (the wall clock plus the tests' offset), the wall clock for queue rows and
leases, and the worker's name."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings


def now() -> float:
    """Execution time in epoch seconds: the wall clock plus STEPWISE_CLOCK_OFFSET (tests move it)."""
    return time.time() + settings.STEPWISE_CLOCK_OFFSET


def _datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _real(epoch: float) -> datetime:
    """The wall-clock moment at which execution time `epoch` is reached (for `run_after`)."""
    return _datetime(epoch - settings.STEPWISE_CLOCK_OFFSET)


def _wall() -> datetime:
    return datetime.now(UTC)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _lease() -> timedelta:
    return timedelta(seconds=settings.STEPWISE_TASK_LEASE_SECONDS)
