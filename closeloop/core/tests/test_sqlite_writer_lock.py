"""closeloop/core/sqlite: write transactions queue on a file lock (not SQLite's sleeping busy
handler), let it go however they end, and fall back to SQLite's own wait after the timeout.

Each test opens its own connections to a database file of its own (not the test database), so
they run the same whichever database the suite uses."""

import fcntl
import os
import threading

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler


def _connection(path, timeout=5):
    handler = ConnectionHandler({"default": {"ENGINE": "closeloop.core.sqlite", "NAME": str(path),
                                             "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": timeout}}})
    return handler["default"]


def _begin(conn):
    conn.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def _commit(conn):
    conn.commit()
    conn.set_autocommit(True)


def _lock_is_free(path) -> bool:
    fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture(autouse=True)
def _own_connections(django_db_blocker):
    with django_db_blocker.unblock():  # connections of the test's own, not the test database
        yield


@pytest.fixture
def db_file(tmp_path):
    path = tmp_path / "w.sqlite3"
    conn = _connection(path)
    with conn.cursor() as cur:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
    conn.close()
    return path


def test_a_second_writer_waits_for_the_first_and_starts_when_it_commits(db_file):
    a = _connection(db_file)
    _begin(a)
    with a.cursor() as cur:
        cur.execute("INSERT INTO t (who) VALUES ('a')")
    assert not _lock_is_free(db_file)
    asking, done = threading.Event(), threading.Event()
    errors = []

    def second():
        b = _connection(db_file)  # a connection belongs to its thread
        try:
            asking.set()
            _begin(b)  # waits here for a's commit
            with b.cursor() as cur:
                cur.execute("INSERT INTO t (who) VALUES ('b')")
            _commit(b)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            b.close()
            done.set()

    thread = threading.Thread(target=second)
    thread.start()
    asking.wait(5)
    assert not done.wait(0.2)  # a holds the lock: b cannot have begun, let alone committed
    _commit(a)
    thread.join(10)
    assert done.is_set() and not errors
    with a.cursor() as cur:
        cur.execute("SELECT who FROM t ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == ["a", "b"]
    assert _lock_is_free(db_file)
    a.close()


def test_the_lock_is_let_go_on_rollback_and_on_close(db_file):
    a = _connection(db_file)
    _begin(a)
    assert not _lock_is_free(db_file)
    a.rollback()
    a.set_autocommit(True)
    assert _lock_is_free(db_file)
    _begin(a)
    assert not _lock_is_free(db_file)
    a.close()  # e.g. the database went away mid-request
    assert _lock_is_free(db_file)


def test_after_the_timeout_sqlites_own_wait_decides(db_file):
    """A writer that cannot get the file lock in time begins anyway: SQLite's lock (held by the
    other transaction) then refuses it as before, and it holds nothing afterwards."""
    a, b = _connection(db_file), _connection(db_file, timeout=0.05)
    _begin(a)
    with pytest.raises(OperationalError, match="locked"):
        _begin(b)
    assert not b._writing
    _commit(a)
    _begin(b)  # free again: b writes
    with b.cursor() as cur:
        cur.execute("INSERT INTO t (who) VALUES ('b')")
    _commit(b)
    assert _lock_is_free(db_file)
    a.close()
    b.close()


def test_a_forked_process_opens_its_own_lock_file(db_file):
    a = _connection(db_file)
    _begin(a)
    _commit(a)
    inherited = a._writer_fd
    a._writer_pid = -1  # as in a child process after fork: that descriptor's lock is shared with the parent
    _begin(a)
    assert a._writer_fd != inherited and not _lock_is_free(db_file)
    _commit(a)
    a.close()


def test_an_in_memory_database_has_no_lock_file(tmp_path):
    a = _connection(":memory:")
    _begin(a)
    assert a._writer_fd is None
    _commit(a)
    a.close()
    assert not list(tmp_path.iterdir())
