"""Demo: notifications (registered from closeloop.notify.apps)."""


def seed_notify_demo() -> str:
    return ""
