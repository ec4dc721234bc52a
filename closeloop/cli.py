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
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
