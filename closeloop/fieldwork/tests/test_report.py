"""The service report's font comes with the project's own install, not the system."""

import pytest

from closeloop.fieldwork import report
from closeloop.workorders.tests.factories import make_wo


@pytest.fixture
def no_system_font(monkeypatch, tmp_path):
    """Every system font path made invisible; the lookup re-run."""
    monkeypatch.setattr(report, "SYSTEM_FONTS", [(str(tmp_path / "nope.ttc"), 2)])
    monkeypatch.delenv("CLOSELOOP_REPORT_FONT", raising=False)
    report.font_path.cache_clear()
    yield
    report.font_path.cache_clear()


def test_font_comes_from_the_installed_package(no_system_font):
    path, face = report.font_path()
    assert "site-packages" in path or ".venv" in path or "pylopdf_fonts_zh_cn" in path
    assert path.endswith(".otf") and face == 0


def test_report_renders_chinese_without_a_system_font(world, no_system_font):
    wo = make_wo(world, title="压缩机更换")
    pdf = report.render(wo, world.dispatcher)
    assert pdf.startswith(b"%PDF") and b"FontFile" in pdf and b"NotoSansSC" in pdf


def test_env_font_still_overrides(monkeypatch, tmp_path):
    custom = tmp_path / "custom.ttf"
    custom.write_bytes(b"x")
    monkeypatch.setenv("CLOSELOOP_REPORT_FONT", str(custom))
    report.font_path.cache_clear()
    try:
        assert report.font_path() == (str(custom), 0)
    finally:
        report.font_path.cache_clear()
