"""Serve Stepwise in the foreground: daphne (HTTP + WebSockets) and its task workers, supervised.

A child that dies is started again with a back-off (designer/supervisor.py) while the others go on,
so a killed worker never takes the web server down. Ctrl-C (or SIGTERM) stops them all.
"""

import os
import signal
import socket
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from designer.supervisor import POLL_SECONDS, Supervisor
from designer.tasks import WORKER_POLL_SECONDS

ASGI_APP = "designer.asgi:application"


def commands(host: str, port: int, workers: int, web_processes: int = 1,
             listener_fd: int | None = None) -> dict[str, list[str]]:
    """The named commands serve supervises: daphne (or `web-1`..`web-N` accepting on one socket that
    serve opened, `listener_fd`), then `worker-1`..`worker-N`."""
    manage = str(settings.BASE_DIR / "manage.py")
    if web_processes <= 1:
        named = {"daphne": [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), ASGI_APP]}
    else:
        # One daphne process runs Python on one core at a time; several accept on one socket (the
        # kernel hands each connection to one of them), so the API can use every core.
        named = {f"web-{number}": [sys.executable, "-m", "daphne", "--fd", str(listener_fd), ASGI_APP]
                 for number in range(1, web_processes + 1)}
    for number in range(1, workers + 1):
        named[f"worker-{number}"] = [sys.executable, manage, "db_worker", "--no-startup-delay",
                                     "--interval", str(WORKER_POLL_SECONDS)]
    return named


class Command(BaseCommand):
    help = ("Serve Stepwise under daphne together with its task workers (db_worker), restarting any that "
            "dies; Ctrl-C stops them all.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("STEPWISE_WORKERS") or 1),
                            help="How many db_worker processes to run (default 1, or STEPWISE_WORKERS).")
        parser.add_argument("--no-worker", action="store_true", help="Serve HTTP only (--workers 0).")
        parser.add_argument(
            "--web-processes", type=int, default=int(os.environ.get("STEPWISE_WEB_PROCESSES") or 1),
            help="How many daphne processes share the port (default 1, or STEPWISE_WEB_PROCESSES); "
                 "with more than one, set REDIS_URL so that live updates reach every process.")

    def handle(self, *args, host, port, workers, no_worker, web_processes, **options):
        web_processes = max(web_processes, 1)
        listener = _listen(host, port) if web_processes > 1 else None
        if listener is None:
            _check_port_free(host, port)
        elif not settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):
            self.stderr.write("Several web processes without REDIS_URL: a page's live updates reach only "
                              "the clients of the process that made them.")
        named = commands(host, port, 0 if no_worker else max(workers, 0), web_processes,
                         listener.fileno() if listener else None)
        supervisor = Supervisor(named, cwd=settings.BASE_DIR,
                                pass_fds=(listener.fileno(),) if listener else ())
        web = next(iter(named))
        stop_requested = []

        # Handle the signals ourselves (even if our parent made us ignore SIGINT): a stop request only
        # ends the supervising loop, which then stops every child's process group deliberately.
        signal.signal(signal.SIGINT, lambda signum, frame: stop_requested.append(signum))
        signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.append(signum))

        announced = []
        probe = "127.0.0.1" if host in ("0.0.0.0", "::") else host

        def announce_once_listening():
            if not announced and supervisor.child(web).running and _listening(probe, port):
                announced.append(True)
                self.stdout.write(
                    self.style.SUCCESS(f"Stepwise is running at http://{host}:{port}/ (Ctrl-C to stop)"))

        try:
            supervisor.start_all()
            while not stop_requested:
                supervisor.check()
                announce_once_listening()
                time.sleep(POLL_SECONDS)
            self.stdout.write("Stopping Stepwise ...")
        finally:
            supervisor.stop_all()
            if listener is not None:
                listener.close()
        self.stdout.write("Stopped.")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), 0.2):
            return True
    except OSError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket the web processes share, or the same error as _check_port_free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host.strip("[]"), port), family=family, backlog=1024)
    except OSError as error:
        raise CommandError(_port_taken(host, port, error)) from None
    listener.set_inheritable(True)
    return listener


def _port_taken(host, port, error) -> str:
    return (f"Cannot listen on {host}:{port} ({error.strerror}). Is Stepwise already running? "
            f"Stop it, or choose another port: PORT={port + 1} make run")


def _check_port_free(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            raise CommandError(_port_taken(host, port, error)) from None
