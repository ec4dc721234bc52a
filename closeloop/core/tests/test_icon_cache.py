"""`{% icon %}` keeps each icon's HTML per process, and draws it afresh when the static settings
change (another STATIC_URL, another storage), never from the old cache."""

from django.test import override_settings

from closeloop.core.templatetags.ui import icon


def test_an_icon_is_drawn_again_when_the_static_settings_change():
    root = str(icon("clock", "me-2"))
    assert 'class="icon me-2"' in root and "#clock" in root and 'href="/static/' in root
    assert icon("clock", "me-2") is icon("clock", "me-2")  # kept
    with override_settings(STATIC_URL="/elsewhere/"):
        assert 'href="/elsewhere/' in str(icon("clock", "me-2"))
    assert str(icon("clock", "me-2")) == root
