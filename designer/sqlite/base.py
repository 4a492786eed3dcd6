"""Django's SQLite backend, with write transactions taking turns on locks that wake the next in line.

SQLite lets one writer at a time hold the database; the others wait in SQLite's busy handler, which
is not woken when the lock is freed but polls with growing sleeps (up to 100 ms each). With the API's
threads starting executions while a worker ran them, most writers slept while the lock stood free,
and a writer that let go and came straight back (the worker, one task after another) kept winning:
40 starts/s with a p99 over a second (`manage.py bench_api`). So BEGIN first takes a thread lock
(the threads of one process) and then an flock on a file beside the database (the processes: the
web server and every worker); both wake a waiter as soon as they are let go.
"""

import fcntl
import os
import threading

from django.db.backends.sqlite3 import base

_write_turn = threading.Lock()
_turn_files: dict[str, int] = {}


def _turn_file(database: str) -> int:
    """This process's descriptor of the lock file beside `database` (flock belongs to an open file)."""
    descriptor = _turn_files.get(database)
    if descriptor is None:
        descriptor = _turn_files[database] = os.open(f"{database}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    return descriptor


class DatabaseWrapper(base.DatabaseWrapper):
    _turn_held: int | None = None  # the lock file's descriptor while this connection has the turn

    def _start_transaction_under_autocommit(self):
        _write_turn.acquire()
        try:
            if not self.is_in_memory_db():
                self._turn_held = _turn_file(str(self.settings_dict["NAME"]))
                fcntl.flock(self._turn_held, fcntl.LOCK_EX)
            else:
                self._turn_held = -1
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
