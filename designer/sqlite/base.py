"""Django's SQLite backend, with a process's write transactions taking turns on a Python lock.

SQLite lets one writer at a time hold the database; the others wait in SQLite's busy handler, which
does not wake them when the lock is freed but polls with growing sleeps (up to 100 ms each). With the
API's threads all starting executions, most of them slept while the lock stood free: 40 starts/s
and a p99 over a second (`manage.py bench_api`). Here the threads of one process queue on a lock that
wakes the next one at once, so only one writer per process (the web server, each worker) waits in
SQLite for the others.
"""

import threading

from django.db.backends.sqlite3 import base

_write_turn = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_turn = False

    def _start_transaction_under_autocommit(self):
        _write_turn.acquire()
        self._holds_write_turn = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_turn()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_write_turn()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_write_turn()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_write_turn()

    def _release_write_turn(self):
        if self._holds_write_turn:
            self._holds_write_turn = False
            _write_turn.release()
