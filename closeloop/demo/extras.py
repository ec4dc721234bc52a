"""Demo scenarios other apps add to `closeloop demo`, without editing the command.

    from closeloop.demo import extras
    extras.register("notify", seed_notify_demo, order=40)

`fn()` runs after the demo company, SLA and rules are loaded (same database, no clock
tricks) and returns one translated line that the command prints: what was set up and
what to try.
"""

from collections.abc import Callable

_extras: dict[str, tuple[int, Callable[[], str]]] = {}


def register(name: str, fn: Callable[[], str], *, order: int = 50) -> None:
    _extras[name] = (order, fn)


def run_all() -> list[str]:
    return [fn() for _name, (_o, fn) in sorted(_extras.items(), key=lambda kv: (kv[1][0], kv[0]))]
