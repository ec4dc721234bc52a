"""Waking idle workers when there is new work (PostgreSQL LISTEN/NOTIFY).

A write that creates work for `closeloop worker` (an outbox row, an SLA deadline, an import)
calls `wake()`. On PostgreSQL that sends `NOTIFY closeloop_work` once when the caller's
transaction commits (never for work that was rolled back), and every idle worker listening
on the channel starts its next tick at once instead of at the end of its poll. On SQLite
there is one worker and it polls; `wake()` does nothing.

Notifications are only a hint: a worker that was busy or disconnected when one was sent
still finds the work on its next poll, so nothing depends on their delivery.
"""

import logging

from django.db import connections, transaction

CHANNEL = "closeloop_work"
log = logging.getLogger("closeloop.worker")


def _send() -> None:
    conn = connections["default"]
    try:
        with conn.cursor() as cur:
            cur.execute(f"NOTIFY {CHANNEL}")
    except Exception:  # a hint only: the worker's poll finds the work anyway
        log.warning("could not notify the workers", exc_info=True)


def wake() -> None:
    """Ask the workers to look for work once the current transaction commits."""
    conn = connections["default"]
    if conn.vendor != "postgresql":
        return
    if not conn.in_atomic_block:
        _send()
    elif not any(func is _send for _sids, func, *_ in conn.run_on_commit):  # once per transaction
        transaction.on_commit(_send)


class Listener:
    """A worker's own autocommit connection, listening on the channel (PostgreSQL only)."""

    def __init__(self):
        import psycopg

        params = connections["default"].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        self.conn = psycopg.connect(**params, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, seconds: float) -> bool:
        """Block up to `seconds` for a notification; True when one (or more) arrived."""
        if seconds <= 0:
            return False
        # Several notifications that arrived together cost at most one extra (empty) tick.
        return any(True for _n in self.conn.notifies(timeout=seconds, stop_after=1))

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # pragma: no cover - closing a broken connection
            pass


def listener_wanted() -> bool:
    return connections["default"].vendor == "postgresql"


def listener() -> "Listener | None":
    """A Listener on PostgreSQL; None on SQLite or when it cannot connect (the worker polls)."""
    if not listener_wanted():
        return None
    try:
        return Listener()
    except Exception:
        log.warning("LISTEN %s failed: polling only", CHANNEL, exc_info=True)
        return None
