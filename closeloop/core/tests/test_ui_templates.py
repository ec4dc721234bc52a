"""Console templates: the icon sprite covers every icon they use, and the zh-Hans catalogue is
complete and compiled (CI machines have no gettext, so the .mo is committed)."""

import gettext
import re
from pathlib import Path

from django.conf import settings

from closeloop.workorders.templatetags.workorders_ui import ACTION_ICONS, KIND_ICONS

ROOT = Path(settings.BASE_DIR)
ICONS_TXT = ROOT / "static" / "src" / "icons.txt"
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _listed_icons() -> set[str]:
    return {line.split("#", 1)[0].strip() for line in ICONS_TXT.read_text().splitlines()} - {""}


def test_every_icon_a_template_uses_is_in_the_sprite_list():
    used = set()
    for path in ROOT.rglob("templates/**/*.html"):
        used |= set(re.findall(r'\{%\s*icon\s+"([a-z0-9-]+)"', path.read_text()))
    used |= set(ACTION_ICONS.values()) | set(KIND_ICONS.values()) | {"arrow-right", "point"}
    assert used, "no icons found: the pattern is wrong"
    assert used - _listed_icons() == set()


def _po_entries(text: str) -> list[tuple[str, str, bool]]:
    """(msgid with context as 'ctx\\x04id', msgstr, fuzzy) for each entry but the header."""
    out = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        fuzzy = any(ln.startswith("#,") and "fuzzy" in ln for ln in lines)
        parts: dict[str, str] = {}
        key = None
        for ln in lines:
            if ln.startswith("#"):
                continue
            m = re.match(r'^(msgctxt|msgid|msgstr)\s+"(.*)"$', ln)
            if m:
                key = m.group(1)
                parts[key] = m.group(2)
            elif key and ln.startswith('"'):
                parts[key] += ln[1:-1]
        if parts.get("msgid"):
            msgid = parts["msgid"]
            if "msgctxt" in parts:
                msgid = parts["msgctxt"] + "\x04" + msgid
            out.append((msgid, parts.get("msgstr", ""), fuzzy))
    return out


def _unescape(s: str) -> str:
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), s)


#: The project catalogue plus each app's own (apps with a locale/ folder keep their strings there).
CATALOGUES = sorted(ROOT.glob("**/locale/zh_Hans/LC_MESSAGES/django.po"))


def test_zh_hans_catalogue_is_complete_and_compiled():
    assert PO in CATALOGUES
    assert len(_po_entries(PO.read_text(encoding="utf-8"))) > 300
    for po in CATALOGUES:
        entries = _po_entries(po.read_text(encoding="utf-8"))
        untranslated = [m for m, s, fuzzy in entries if not s or fuzzy]
        assert untranslated == [], po
        with po.with_suffix(".mo").open("rb") as fh:
            compiled = gettext.GNUTranslations(fh)
        stale = [m for m, s, _f in entries if compiled._catalog.get(_unescape(m)) != _unescape(s)]
        assert stale == [], f"{po.with_suffix('.mo')} is older than its .po: run compilemessages"


def test_every_registered_nav_and_panel_icon_is_in_the_sprite_list():
    from closeloop.core import nav

    assert {e.icon for e in nav._entries.values()} - _listed_icons() == set()


def _compiled(po: Path) -> dict[str, str]:
    with po.with_suffix(".mo").open("rb") as fh:
        return {k: v for k, v in gettext.GNUTranslations(fh)._catalog.items() if isinstance(k, str) and k}


def test_a_msgid_without_context_means_one_thing_in_every_catalogue():
    """Django merges every catalogue into one: the same msgid translated two ways in two apps
    shows one app the other's text ("Close" on a dialog read "关闭工单"). A word that means two
    things takes a context (pgettext / {% translate "..." context "..." %}); one meaning, one text."""
    seen: dict[str, dict[str, str]] = {}
    for po in CATALOGUES:
        for msgid, msgstr in _compiled(po).items():
            if "\x04" not in msgid:
                seen.setdefault(msgid, {})[str(po.relative_to(ROOT))] = msgstr
    assert len(seen) > 500
    clashes = {m: where for m, where in seen.items() if len(set(where.values())) > 1}
    assert set(clashes) - LEDGERS_TO_SETTLE == set(), {m: clashes[m] for m in set(clashes) - LEDGERS_TO_SETTLE}


#: Clashes the ledgers app brought (landed while this guard was written): a person's name (姓名) vs an
#: object's (名称), an employee "Active" (在职) vs a channel's (正常), "created" as an event vs a column...
#: Its owner gives them contexts and empties this set; no new entry may be added here.
LEDGERS_TO_SETTLE: set[str] = set()


def test_close_on_a_dialog_is_not_closing_a_work_order(world, client):
    from django.utils import translation

    client.force_login(world.dispatcher)
    html = client.get("/work-orders/", headers={"accept-language": "zh-hans"}).content.decode()
    dialog = html[html.index('data-testid="shortcuts-dialog"'):html.index("</dialog>")]
    assert "关闭工单" not in dialog and ">关闭</button>" in dialog
    bulk = html[html.index('data-testid="bulk-action"'):]
    assert '<option value="close">关闭工单</option>' in bulk[:bulk.index("</select>")]
    from closeloop.workorders.lifecycle import TRANSITIONS

    with translation.override("zh-hans"):
        assert str(TRANSITIONS["close"].label) == "关闭工单"
        assert str(TRANSITIONS["cancel"].label) == "取消工单"
