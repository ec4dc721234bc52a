import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The world fixture hashes nine passwords; Argon2 makes that seconds per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
