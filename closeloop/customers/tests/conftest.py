import pytest

from closeloop.customers.models import Contact, ServiceContract


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The world fixture hashes nine passwords; Argon2 makes that seconds per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org_world(world):
    """`world` plus the pieces org B lacks there: a contact and a contract on each side."""
    world.contact_b = Contact.objects.create(customer=world.org_b, site=world.site_b, name="李医生", phone="13900000002")
    world.contract_a = ServiceContract.objects.create(customer=world.org_a, number="SC-A-1", tier="gold",
                                                      starts_on="2026-01-01", ends_on="2026-12-31")
    world.contract_b = ServiceContract.objects.create(customer=world.org_b, number="SC-B-1",
                                                      starts_on="2026-01-01", ends_on="2026-12-31")
    return world
