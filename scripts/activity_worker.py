#!/usr/bin/env python3
"""A Step Functions activity worker: copy it, replace `work()` with yours.

Several threads long-poll GetActivityTask (each poll waits up to 60 s for a task), run `work()` on
the task's input while a heartbeat thread calls SendTaskHeartbeat, and answer with SendTaskSuccess or
SendTaskFailure. Ctrl-C (or SIGTERM) stops taking new tasks, lets the running ones finish and answer,
and exits; a second Ctrl-C exits at once (a task left unanswered times out on its HeartbeatSeconds or
TimeoutSeconds, and Retry can run it again on another worker).

    python scripts/activity_worker.py arn:aws:states:us-east-1:123456789012:activity:review \\
        --endpoint-url http://localhost:8000 --threads 5

Credentials and region come from boto3's usual places (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION, ~/.aws/...): a Stepwise access key works as an AWS one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time

import boto3
from botocore.config import Config

log = logging.getLogger("activity_worker")


def work(task_input: dict) -> dict:
    """Your work. Return the Task's result (JSON-serialisable); raise to fail the Task (the exception's
    class name is its error, Retry and Catch see it)."""
    if "sleep" in task_input:
        time.sleep(float(task_input["sleep"]))
    return {"worker": socket.gethostname(), "input": task_input}


class Worker:
    def __init__(self, activity_arn: str, endpoint_url: str | None, threads: int, heartbeat: float,
                 name: str, region: str | None):
        self.activity_arn = activity_arn
        self.threads = threads
        self.heartbeat = heartbeat
        self.name = name
        self.stopping = threading.Event()
        # A poll waits up to 60 s: the client must wait longer before it gives up on the answer.
        config = Config(read_timeout=70, connect_timeout=10, retries={"max_attempts": 3},
                        max_pool_connections=threads * 2 + 2)
        self.sfn = boto3.client("stepfunctions", endpoint_url=endpoint_url, config=config,
                                region_name=region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        self.done = 0
        self.busy = 0  # tasks running now
        self.lock = threading.Lock()

    def run(self) -> None:
        pollers = [threading.Thread(target=self.poll_loop, args=(index,), name=f"poller-{index}", daemon=True)
                   for index in range(self.threads)]
        for poller in pollers:
            poller.start()
        log.info("%s: %d pollers on %s", self.name, self.threads, self.activity_arn)
        try:
            # Idle pollers may be in the middle of a 60 s poll: once stopping, leave as soon as no task
            # runs. The server sees the polls' connections close and hands them no task.
            while any(poller.is_alive() for poller in pollers):
                with self.lock:
                    idle = self.busy == 0
                if self.stopping.is_set() and idle:
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            log.info("stopping at once")
            return
        log.info("stopped after %d tasks", self.done)

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stopping: no new tasks, waiting for the running ones (Ctrl-C again to quit now)")
            self.stopping.set()

    def poll_loop(self, index: int) -> None:
        worker_name = f"{self.name}-{index}"
        while not self.stopping.is_set():
            try:
                task = self.sfn.get_activity_task(activityArn=self.activity_arn, workerName=worker_name)
            except Exception:
                log.exception("%s: GetActivityTask failed; trying again shortly", worker_name)
                self.stopping.wait(2)
                continue
            token = task.get("taskToken")
            if not token:
                continue  # the poll's 60 s passed without a task: poll again
            self.handle(token, task.get("input") or "{}")

    def handle(self, token: str, task_input: str) -> None:
        with self.lock:
            self.busy += 1
        try:
            self.run_task(token, task_input)
        finally:
            with self.lock:
                self.busy -= 1
                self.done += 1

    def run_task(self, token: str, task_input: str) -> None:
        beating = threading.Event()
        beat = threading.Thread(target=self.heartbeats, args=(token, beating), daemon=True)
        beat.start()
        try:
            result = work(json.loads(task_input))
        except Exception as error:
            beating.set()
            self.answer(self.sfn.send_task_failure, taskToken=token, error=type(error).__name__[:256],
                        cause=str(error)[:32768])
        else:
            beating.set()
            self.answer(self.sfn.send_task_success, taskToken=token, output=json.dumps(result))

    def heartbeats(self, token: str, beating: threading.Event) -> None:
        while not beating.wait(self.heartbeat):
            try:
                self.sfn.send_task_heartbeat(taskToken=token)
            except self.sfn.exceptions.TaskTimedOut:
                log.warning("the task timed out or was stopped; its answer will be refused")
                return
            except Exception:
                log.exception("SendTaskHeartbeat failed")

    def answer(self, send, **arguments) -> None:
        try:
            send(**arguments)
        except self.sfn.exceptions.TaskTimedOut:
            log.warning("the task had already ended (timed out or stopped): answer refused")
        except Exception:
            log.exception("answering the task failed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("activity_arn")
    parser.add_argument("--endpoint-url", default=os.environ.get("STEPWISE_URL"))
    parser.add_argument("--threads", type=int, default=4, help="polling threads (default 4)")
    parser.add_argument("--heartbeat", type=float, default=10.0,
                        help="seconds between heartbeats while a task runs (keep it under HeartbeatSeconds)")
    parser.add_argument("--name", default=f"{socket.gethostname()}-{os.getpid()}", help="worker name")
    parser.add_argument("--region", default=None)
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(message)s")
    worker = Worker(arguments.activity_arn, arguments.endpoint_url, arguments.threads, arguments.heartbeat,
                    arguments.name, arguments.region)

    def on_signal(signum, frame):
        if worker.stopping.is_set():
            raise KeyboardInterrupt
        worker.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    worker.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
