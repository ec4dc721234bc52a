"""`DEMO_DATABASE` for templates: show the DEMO badge (see selectors.is_demo_database).

Enable with "closeloop.demo.context_processors.demo" in TEMPLATES' context_processors.
"""

from .selectors import is_demo_database


def demo(request):
    return {"DEMO_DATABASE": is_demo_database()}
