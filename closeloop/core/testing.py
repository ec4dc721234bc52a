"""Helpers for tests that need real concurrency on the database under test."""

import threading

from django.db import connections


def run_at_once(n: int, fn) -> tuple[list, list]:
    """Run fn(0) … fn(n-1) in n threads released together (each thread has its own database
    connection, closed at the end). Returns (results, errors); a failed call's result is its
    exception."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except Exception as exc:  # collected for the caller's assertions
            errors.append(exc)
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors
