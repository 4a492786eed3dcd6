"""Django's SQLite backend, with write transactions taking turns before they ask SQLite for its lock.

SQLite lets one writer at a time hold the database; the others wait in SQLite's busy handler, which
is not woken when the lock is freed but polls with growing sleeps (up to 100 ms each). With the API's
threads starting executions while a worker ran them, most writers slept while the lock stood free,
and a writer that let go and came straight back (the worker, one task after another) kept winning:
40 starts/s with a p99 over a second (`manage.py bench_api`). So BEGIN first takes a thread lock
(the threads of one process) and then an flock on a file beside the database (the processes: the
web server and every worker); a waiter gets the turn within a millisecond of its release.
"""

import fcntl
import os
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_write_turn = threading.Lock()
_turn_files: dict[str, int] = {}


def _turn_file(database: str) -> int:
    """This process's descriptor of the lock file beside `database` (flock belongs to an open file)."""
    descriptor = _turn_files.get(database)
    if descriptor is None:
        descriptor = _turn_files[database] = os.open(f"{database}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    return descriptor


def _flock_before(descriptor: int, deadline: float) -> None:
    """The flock, or "database is locked" at the deadline. Blocking flock has no timeout; a waiter
    looks every millisecond, against SQLite's sleeps of up to 100 ms."""
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OperationalError("database is locked") from None
            time.sleep(0.001)


class DatabaseWrapper(base.DatabaseWrapper):
    _turn_held: int | None = None  # the lock file's descriptor while this connection has the turn

    def _start_transaction_under_autocommit(self):
        # As long as SQLite itself would wait, then the same error: a writer that never lets go (or a
        # thread that waits, inside a transaction, for another one's write) fails, never hangs.
        deadline = time.monotonic() + self.settings_dict["OPTIONS"].get("timeout", 5)
        if not _write_turn.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise OperationalError("database is locked")
        self._turn_held = -1
        try:
            if not self.is_in_memory_db():
                self._turn_held = _turn_file(str(self.settings_dict["NAME"]))
                _flock_before(self._turn_held, deadline)
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._end_turn()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._end_turn()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._end_turn()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._end_turn()

    def _end_turn(self):
        if self._turn_held is None:
            return
        held, self._turn_held = self._turn_held, None
        try:
            if held >= 0:
                fcntl.flock(held, fcntl.LOCK_UN)
        finally:
            _write_turn.release()
