"""The `closeloop` console script: Django's management commands under our name.

`closeloop migrate`, `closeloop runserver`, `closeloop demo`, `closeloop token create ...`.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv if argv is None else argv)
    argv[0] = "closeloop"
    if argv[1:2] == ["serve"]:
        # The production-style server (and so `make demo`) never shows Django's debug pages,
        # whatever the shell exports: they print settings and tracebacks to anyone.
        os.environ["CLOSELOOP_DEBUG"] = "0"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
