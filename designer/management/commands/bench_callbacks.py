"""Callbacks and activities under load: boto3 threads against a real server (daphne + a db_worker on a
fresh SQLite database), as `make run` starts them.

    manage.py bench_callbacks                     # 500 callbacks, 100 polls and 300 activity tasks
    manage.py bench_callbacks --callbacks 50 --activity-tasks 30 --polls 20 --json

Callbacks: N Standard executions each wait on a task token (`lambda:invoke.waitForTaskToken`, then a
Pass state); once every one has made its request, `--threads` boto3 threads answer them with
SendTaskSuccess. Measured: SendTaskSuccess calls/s through the API, and the latency from the moment a
call was sent to the next state's entry (its `PassStateEntered` history row's timestamp).

Activities: `--polls` boto3 threads keep a GetActivityTask long poll open each on one daphne; then the
executions are started, each scheduling one activity task, and a poller that receives a task answers it
with SendTaskSuccess and polls again. Measured: the hand-off latency from the `ActivityScheduled` history
row's timestamp to the poller receiving the task, and activity tasks completed per second (from the
first start to the last execution's end).

Timestamps of the history rows and of the clients are the same wall clock (one machine).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from designer.management.commands.bench_api import _client, _free_port, _hidden, _wait_for_port
from designer.tasks import WORKER_POLL_SECONDS

CALLBACK_MACHINE = {
    "Comment": "bench_callbacks: wait for a task token, then a Pass state",
    "StartAt": "Ask",
    "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "greet", "Payload": {"token.$": "$$.Task.Token"}},
                "Next": "Done"},
        "Done": {"Type": "Pass", "End": True}},
}


def _activity_machine(activity_arn: str) -> dict:
    return {"Comment": "bench_callbacks: one activity task",
            "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": activity_arn, "End": True}}}


class Command(BaseCommand):
    help = "Measure SendTaskSuccess calls/s and latency, and activity hand-off through daphne + db_worker."

    def add_arguments(self, parser):
        parser.add_argument("--callbacks", type=int, default=500, help="executions waiting on a token")
        parser.add_argument("--threads", type=int, default=8, help="boto3 threads answering callbacks")
        parser.add_argument("--polls", type=int, default=100, help="open GetActivityTask polls")
        parser.add_argument("--activity-tasks", type=int, default=300)
        parser.add_argument("--activity-rate", type=float, default=0.0,
                            help="activity executions started per second (0: all at once, a burst)")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print the results as JSON")
        parser.add_argument("--measure", action="store_true", help=_hidden())

    def handle(self, *args, callbacks, threads, polls, activity_tasks, activity_rate, as_json, measure,
               **options):
        if measure:
            print(json.dumps(_measure(callbacks, threads, polls, activity_tasks, activity_rate)))
            return
        rows = _in_fresh_database(callbacks, threads, polls, activity_tasks, activity_rate)
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write(f"{'measure':<34} {'count':>6} {'per s':>7} {'p50 ms':>7} {'p99 ms':>7} "
                          f"{'max ms':>7} {'errors':>6}")
        for row in rows:
            self.stdout.write(f"{row['measure']:<34} {row['count']:>6} {row['per_second']:>7.0f} "
                              f"{row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['max_ms']:>7.1f} "
                              f"{row['errors']:>6}")
        for row in rows:
            if row.get("note"):
                self.stdout.write(f"{row['measure']}: {row['note']}")


def _in_fresh_database(callbacks: int, threads: int, polls: int, activity_tasks: int,
                       activity_rate: float) -> list[dict]:
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    with tempfile.TemporaryDirectory() as workdir:
        env["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        out = subprocess.run(
            [*manage, "bench_callbacks", "--measure", "--callbacks", str(callbacks),
             "--threads", str(threads), "--polls", str(polls), "--activity-tasks", str(activity_tasks),
             "--activity-rate", str(activity_rate)],
            env=env, check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(callbacks: int, threads: int, polls: int, activity_tasks: int,
             activity_rate: float) -> list[dict]:
    """In the fresh database: a daphne and a db_worker as `make run` starts them, an access key, the load."""
    from django.contrib.auth import get_user_model

    from designer.models import AccessKey

    user = get_user_model().objects.create_user("bench", password="unused-" + os.urandom(8).hex())
    key, secret = AccessKey.issue(user, "bench_callbacks")
    port = _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [
        subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                          "designer.asgi:application"], cwd=settings.BASE_DIR, **quiet),
        subprocess.Popen([sys.executable, str(settings.BASE_DIR / "manage.py"), "db_worker", "--no-reload",
                          "--no-startup-delay", "--interval", str(WORKER_POLL_SECONDS), "--worker-id",
                          "bench-0"], cwd=settings.BASE_DIR, **quiet)]
    try:
        _wait_for_port(port, processes[0])
        endpoint = f"http://127.0.0.1:{port}"

        _client(endpoint, key.access_key_id, secret).list_state_machines()  # warm the server, not timed
        rows = _callbacks(endpoint, key.access_key_id, secret, callbacks, threads)
        rows += _activities(endpoint, key.access_key_id, secret, polls, activity_tasks, activity_rate)
        return rows
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout:.0f} s")
        time.sleep(0.05)


def _callbacks(endpoint: str, key_id: str, secret: str, count: int, threads: int) -> list[dict]:
    from designer import runtime
    from designer.models import Execution, ExecutionStatus, HistoryEvent
    from designer.task_models import TaskToken

    machine = runtime.create_state_machine("bench-callbacks", json.dumps(CALLBACK_MACHINE))
    for index in range(count):
        runtime.start_execution(machine, json.dumps({"i": index}), name=f"cb-{index}")
    waiting = HistoryEvent.objects.filter(execution__machine=machine, type="TaskSubmitted")
    _wait_until(lambda: waiting.count() >= count, 300, "executions not all waiting on their token")
    tokens = list(TaskToken.objects.open().filter(execution__machine=machine)
                  .values_list("token", "execution_id"))
    clients = [_client(endpoint, key_id, secret) for _ in range(threads)]
    sent: dict[int, float] = {}  # execution id → wall-clock time its SendTaskSuccess was sent
    call_seconds: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def answer(client, share):
        for token, execution_id in share:
            wall, begin = time.time(), time.perf_counter()
            try:
                client.send_task_success(taskToken=token, output='{"approved": true}')
            except Exception:
                with lock:
                    errors[0] += 1
                continue
            with lock:
                sent[execution_id] = wall
                call_seconds.append(time.perf_counter() - begin)

    workers = [threading.Thread(target=answer, args=(clients[index], tokens[index::threads]))
               for index in range(threads)]
    begin = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - begin
    executions = Execution.objects.filter(machine=machine)
    _wait_until(lambda: not executions.filter(status=ExecutionStatus.RUNNING).exists(), 300,
                "answered executions still running")
    entered = dict(HistoryEvent.objects.filter(execution__machine=machine, type="PassStateEntered")
                   .values_list("execution_id", "timestamp"))
    latencies = [entered[execution_id].timestamp() - wall for execution_id, wall in sent.items()
                 if execution_id in entered]
    last = max(entered.values()).timestamp() - min(sent.values()) if sent and entered else 0.0
    succeeded = executions.filter(status=ExecutionStatus.SUCCEEDED).count()
    return [
        _row("SendTaskSuccess call", call_seconds, errors[0], elapsed,
             note=f"{len(sent)} calls from {threads} threads in {elapsed:.2f} s"),
        _row("callback: call to next state", latencies, count - len(latencies), last,
             note=f"{succeeded} of {count} executions SUCCEEDED; per s = answered callbacks whose next "
                  f"state was entered, first call to last entry ({last:.2f} s)"),
    ]


def _activities(endpoint: str, key_id: str, secret: str, polls: int, count: int, rate: float) -> list[dict]:
    from designer import runtime
    from designer.models import Execution, ExecutionStatus, HistoryEvent

    activity = runtime.create_activity("bench-activity")
    machine = runtime.create_state_machine("bench-activities", json.dumps(_activity_machine(activity.arn)))
    received: dict[str, float] = {}  # execution name → wall-clock time a poller received its task
    handed = [0]
    errors = [0]
    lock = threading.Lock()

    def poll(index: int) -> None:
        client = _client(endpoint, key_id, secret)  # read_timeout 60 s: a poll answers by then
        while True:
            try:
                task = client.get_activity_task(activityArn=activity.arn, workerName=f"bench-{index}")
            except Exception:
                with lock:
                    errors[0] += 1
                time.sleep(0.5)
                continue
            if not task.get("taskToken"):
                continue
            wall = time.time()
            name = json.loads(task["input"])["name"]
            with lock:
                handed[0] += 1
                received.setdefault(name, wall)
            try:
                client.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
            except Exception:
                with lock:
                    errors[0] += 1

    pollers = [threading.Thread(target=poll, args=(index,), daemon=True) for index in range(polls)]
    for poller in pollers:
        poller.start()
    time.sleep(2.0)  # every poll has reached the server and waits there
    begin = time.time()
    for index in range(count):
        if rate:
            time.sleep(max(0.0, begin + index / rate - time.time()))
        runtime.start_execution(machine, json.dumps({"name": f"act-{index}"}), name=f"act-{index}")
    executions = Execution.objects.filter(machine=machine)
    _wait_until(lambda: not executions.filter(status=ExecutionStatus.RUNNING).exists(), 300,
                "activity executions still running")
    finished = max(executions.values_list("stop_date", flat=True)).timestamp()
    scheduled = {name: stamp.timestamp() for name, stamp in HistoryEvent.objects.filter(
        execution__machine=machine, type="ActivityScheduled").values_list("execution__name", "timestamp")}
    latencies = [received[name] - stamp for name, stamp in scheduled.items() if name in received]
    succeeded = executions.filter(status=ExecutionStatus.SUCCEEDED).count()
    return [_row("activity: scheduled to poller", latencies, errors[0], finished - begin,
                 note=f"{polls} open polls, {f'{rate:g} starts/s' if rate else 'all started at once'}; "
                      f"{succeeded} of {count} executions SUCCEEDED; {handed[0]} tasks "
                      f"handed out; per s = activity tasks completed, first start to last end "
                      f"({finished - begin:.2f} s)")]


def _row(measure: str, seconds: list[float], errors: int, elapsed: float, note: str = "") -> dict:
    seconds = sorted(seconds)
    ms = [value * 1000 for value in seconds]
    return {"measure": measure, "count": len(ms), "errors": errors,
            "per_second": len(ms) / elapsed if elapsed > 0 else 0.0,
            "p50_ms": statistics.median(ms) if ms else 0.0,
            "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else 0.0,
            "max_ms": ms[-1] if ms else 0.0, "note": note}
