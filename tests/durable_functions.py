"""Functions the durability tests' workers run (STEPWISE_FUNCTIONS=tests.durable_functions).

Every call appends a line to the file named by STEPWISE_TEST_CALLS, so a test counts calls across
worker processes, including the ones it killed.
"""

import os
import time

from designer.functions import register


def _record(label: str) -> int:
    """Append a call; return how many calls there were before this one."""
    path = os.environ["STEPWISE_TEST_CALLS"]
    with open(path, "a+") as calls:
        calls.seek(0)
        before = len(calls.read().splitlines())
        calls.write(f"{label} {os.getpid()}\n")
    return before


@register("slow_first_time")
def slow_first_time(event, context):
    """The first call anywhere sleeps `sleep` seconds (long enough to be killed); later calls return."""
    if _record("slow_first_time") == 0:
        time.sleep(event.get("sleep", 30))
    return {"done": True}


@register("sleepy")
def sleepy(event, context):
    _record("sleepy")
    time.sleep(event.get("sleep", 1))
    return {"slept": event.get("sleep", 1)}


@register("square")
def square(event, context):
    return event["n"] * event["n"]


@register("notify_reviewer")
def notify_reviewer(event, context):
    """A callback's request: a real one would mail the token to a reviewer; this one only records it."""
    _record("notify_reviewer")
    return {"notified": True}
