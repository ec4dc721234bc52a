"""Django's SQLite backend, whose write transactions queue on a file lock instead of SQLite's busy handler.

Every transaction here is `BEGIN IMMEDIATE` (settings: it takes SQLite's one write lock up front). When
another connection holds that lock, SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50,
50, 100 ms between tries: a writer that waited 8 ms tries again after 18, so under load (two web
workers and the worker, each transaction a few ms) the lock stood idle while the waiters slept. py-spy
on a web worker at 80 creates/s (bench/workorders.py, 1M work orders): 46 % of its time in that sleep.

Here a transaction first takes an exclusive `flock` on `<database>-writer.lock`, then begins, and lets it
go when it commits or rolls back. Waiting writers try again every 0.1 ms, doubling to at most 1 ms, so
one starts within a millisecond of the previous one's end. After the connection's `timeout` (settings:
30 s) a waiter stops waiting for the file lock and begins anyway: SQLite's own busy handler then decides
as before, so a writer that holds the lock while it waits for another connection of its own (a thread
in a test) cannot hang forever. Writes outside a transaction (autocommit statements) and other
programs (the sqlite3 shell, a backup) take no file lock: SQLite's lock still serialises them with
everything else. In-memory databases have no file and no lock.
"""

import fcntl
import os
import time

from django.db.backends.sqlite3 import base

FIRST_WAIT = 0.0001
LONGEST_WAIT = 0.001


class DatabaseWrapper(base.DatabaseWrapper):
    _writer_fd: int | None = None
    _writer_pid: int | None = None
    _writing = False

    def _writer_lock_path(self) -> str | None:
        if self.is_in_memory_db():
            return None
        return f"{self.settings_dict['NAME']}-writer.lock"

    def _writer_file(self) -> int | None:
        if self._writer_fd is not None and self._writer_pid != os.getpid():
            self._writer_fd = None  # inherited across a fork: that descriptor's lock is the parent's too
        if self._writer_fd is None:
            path = self._writer_lock_path()
            if path is None:
                return None
            self._writer_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._writer_pid = os.getpid()
        return self._writer_fd

    def acquire_writer_lock(self) -> bool:
        """Wait (at most the connection's `timeout`) for the file lock; True when held."""
        fd = self._writer_file()
        if fd is None or self._writing:
            return self._writing
        wait, deadline = FIRST_WAIT, None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._writing = True
                return True
            except BlockingIOError:
                t = time.monotonic()
                if deadline is None:
                    deadline = t + float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
                elif t >= deadline:
                    return False
                time.sleep(wait)
                wait = min(wait * 2, LONGEST_WAIT)

    def release_writer_lock(self) -> None:
        if self._writing:
            self._writing = False
            if self._writer_fd is not None and self._writer_pid == os.getpid():
                fcntl.flock(self._writer_fd, fcntl.LOCK_UN)

    def _start_transaction_under_autocommit(self):
        self.acquire_writer_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self.release_writer_lock()
            raise

    def _commit(self):
        try:
            super()._commit()
        finally:
            if not (self.connection is not None and self.connection.in_transaction):
                self.release_writer_lock()

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            if not (self.connection is not None and self.connection.in_transaction):
                self.release_writer_lock()

    def _set_autocommit(self, autocommit):
        super()._set_autocommit(autocommit)
        if autocommit and not (self.connection is not None and self.connection.in_transaction):
            self.release_writer_lock()

    def _close(self):
        try:
            super()._close()
        finally:
            self.release_writer_lock()
            if self._writer_fd is not None and self._writer_pid == os.getpid():
                os.close(self._writer_fd)
            self._writer_fd = None


class DatabaseCreation(base.DatabaseWrapper.creation_class):
    def _destroy_test_db(self, test_database_name, verbosity):
        super()._destroy_test_db(test_database_name, verbosity)
        if not self.is_in_memory_db(test_database_name):
            try:
                os.remove(f"{test_database_name}-writer.lock")
            except FileNotFoundError:
                pass


DatabaseWrapper.creation_class = DatabaseCreation
