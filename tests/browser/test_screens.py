"""What people see, in Chromium: pages drawn the way they are meant to be."""

import pytest
from playwright.sync_api import expect

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_shortcuts_dialog_is_closed_until_asked_for(world, browse):
    page = browse(locale="zh-CN", width=1440, height=900)
    login(page, "dispatcher")
    for path in ("/work-orders/", "/board/", "/dashboard/"):
        page.goto(path)
        dialog = page.get_by_test_id("shortcuts-dialog")
        expect(dialog).to_be_hidden()
        page.locator("body").press("?")
        expect(dialog).to_be_visible()
        button = dialog.get_by_role("button")
        expect(button).to_have_text("关闭")
        button.click()
        expect(dialog).to_be_hidden()
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []


# Lines of text an element is drawn on (a label wrapped one character a line has many).
_TOP_BAR = """() => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const lines = (el) => { const r = document.createRange(); r.selectNodeContents(el);
    return new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top))).size; };
  const bar = document.querySelector('[data-testid=navbar]');
  const labels = [...bar.querySelectorAll('.nav-link-title, .cl-brand-text, [data-testid=user-name]')].filter(visible);
  return {
    overflow: document.scrollingElement.scrollWidth - innerWidth,
    wrapped: labels.filter((el) => lines(el) > 1).map((el) => el.textContent.trim()),
    tops: [...new Set([...bar.querySelectorAll('[data-nav-bar] > li')].filter(visible)
                     .map((li) => Math.round(li.getBoundingClientRect().top)))],
    active: [...bar.querySelectorAll('[data-nav-bar] > li.active, [data-nav-bar] .dropdown-item.active')]
              .filter((el) => !el.classList.contains('d-none')).map((el) => el.dataset.navItem || el.dataset.testid || el.textContent.trim()),
    searches: [...document.querySelectorAll('input[type=search]')].filter(visible).length,
    more: [...bar.querySelectorAll('[data-nav-more] .dropdown-item')].filter((a) => !a.classList.contains('d-none'))
            .map((a) => a.dataset.navItem),
  };
}"""


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_top_bar_is_one_line_with_one_active_item_and_one_search(world, browse, locale):
    for width in (1440, 1280):
        page = browse(locale=locale, width=width, height=900)
        login(page, "admin")
        for path, active in [("/work-orders/", "workorders"), ("/board/", "board"), ("/dispatch/roster/",
                                                                                   "dispatch-roster")]:
            page.goto(path)
            bar = page.evaluate(_TOP_BAR)
            where = f"{locale} {width} {path}: {bar}"
            assert bar["overflow"] <= 0 and bar["wrapped"] == [] and len(bar["tops"]) == 1, where
            assert bar["active"] == [active], where
            assert bar["searches"] == 1, where
            if width == 1280 and locale == "en-US":
                assert bar["more"], where  # the admin's entries do not all fit: some are under "More"
                page.get_by_test_id("nav-more").click()
                expect(page.locator(f"#navbar-more [data-nav-item={bar['more'][0]}]")).to_be_visible()
    # A phone: the menu is collapsed behind the toggler, and opens as a list.
    page = browse(locale=locale, width=390, height=844)
    login(page, "admin")
    page.goto("/work-orders/")
    assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0
    expect(page.get_by_test_id("nav-workorders")).to_be_hidden()
    page.locator(".navbar-toggler").click()
    expect(page.get_by_test_id("nav-workorders")).to_be_visible()
    expect(page.get_by_test_id("nav-more")).to_be_hidden()
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []


# ---- every page of every role, at desktop and phone width, in both languages ----------------------------

#: Where each persona lands after logging in (item "each role lands where it works").
LANDINGS = {"admin": "/dashboard/", "manager": "/dashboard/", "dispatcher": "/work-orders/",
            "finance": "/work-orders/?status=confirmed", "eng_x": "/m/", "cust_a": "/portal/"}
_ALL = set(LANDINGS)
_STAFF = {"admin", "manager", "dispatcher", "finance", "eng_x"}
_BOSSES = {"admin", "manager"}
#: (path, who may open it); {code} is a work order of org A assigned to eng_x, {done} one confirmed.
PAGES = [
    ("/work-orders/", _ALL), ("/work-orders/{code}/", _ALL), ("/work-orders/{done}/", _ALL - {"eng_x"}),
    ("/work-orders/new", _ALL - {"finance"}), ("/lookup/?q=SN-A-1", _ALL), ("/board/", _STAFF),
    ("/dashboard/", {"admin", "manager", "dispatcher"}), ("/notifications/", _ALL),
    ("/notifications/preferences", _ALL), ("/settings/tokens/", _ALL),
    ("/notifications/channels/", _BOSSES), ("/notifications/deliveries/", _BOSSES),
    ("/notifications/policies/", _BOSSES), ("/approvals/", _STAFF), ("/approvals/flows/", _BOSSES),
    ("/approvals/handoffs/", _BOSSES), ("/approvals/reports/", _BOSSES),
    ("/rules/", {"admin", "manager", "dispatcher"}), ("/rules/keywords/", {"admin", "manager", "dispatcher"}),
    ("/rules/new", _BOSSES), ("/dispatch/roster/", {"admin", "manager", "dispatcher"}),
    ("/maintenance/", {"admin", "manager", "dispatcher"}), ("/maintenance/new", {"admin", "manager", "dispatcher"}),
    ("/maintenance/{plan}/", {"admin", "manager", "dispatcher"}),
    ("/dispatch/settings/", _BOSSES), ("/fieldwork/gates/", _BOSSES), ("/settings/audit/", {"admin"}),
    ("/settings/types/", _BOSSES), ("/settings/types/repair/", _BOSSES), ("/settings/contracts/", _BOSSES),
    ("/settings/events/", {"admin"}), ("/settings/systems/", {"admin"}),
    ("/settings/mailboxes/", {"admin"}), ("/settings/mailboxes/{mailbox}", {"admin"}),
    ("/mail/held/", {"admin", "manager", "dispatcher"}),
    ("/settings/connectors/", {"admin"}), ("/settings/connectors/new", {"admin"}),
    ("/settings/connectors/{connector}/", {"admin"}), ("/lookup/?q={code}", _STAFF),
    ("/settings/sla-policies/", {"admin"}), ("/settings/calendars/", {"admin"}),
    ("/analytics/", {"admin", "manager", "dispatcher", "eng_x"}),
    ("/analytics/heatmap/", {"admin", "manager", "dispatcher", "eng_x"}),
    ("/settings/templates/", _BOSSES), ("/settings/templates/repair/", _BOSSES), ("/settings/templates/import", _BOSSES),
    ("/settings/telemetry/", _BOSSES), ("/settings/telemetry/meters/?q=SN", _BOSSES),
    ("/settings/telemetry/conditions/", _BOSSES), ("/settings/telemetry/assets/SN-A-1/", _BOSSES),
    ("/stock/parts/", _STAFF), ("/stock/parts/R410A-10/", _STAFF), ("/stock/locations/", _STAFF),
    ("/stock/locations/van-x/", _STAFF), ("/stock/move?kind=transfer", {"admin", "manager", "dispatcher"}),
    ("/stock/reorder/", _STAFF), ("/stock/fleet/", _STAFF),
    ("/purchasing/", _STAFF - {"eng_x"}), ("/purchasing/rules/", _STAFF - {"eng_x"}),
    ("/purchasing/settings/", _STAFF - {"eng_x"}), ("/work-orders/{purchase}/", _BOSSES),
    ("/m/", {"eng_x"}), ("/m/wo/{code}/", {"eng_x"}),
    ("/portal/", {"cust_a"}), ("/portal/new", {"cust_a"}), ("/portal/w/{code}/", {"cust_a"}),
    # A page one's role may not open: the friendly 403 must look right too (not counted as a bad response).
    ("/dispatch/settings/", {"dispatcher"}),
]
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
LOCALES = {"zh-hans": "zh-CN", "en": "en-US"}

_PAGE_PROBLEMS = """() => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const lines = (el) => { const r = document.createRange(); r.selectNodeContents(el);
    return new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top))).size; };
  const out = [];
  const over = document.scrollingElement.scrollWidth - innerWidth;
  if (over > 0) {
    const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > innerWidth + 1)
      .slice(-3).map((el) => el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined ? '.' + el.className.split(' ').join('.') : ''));
    out.push('overflows by ' + over + 'px: ' + wide.join(', '));
  }
  const bar = document.querySelector('[data-testid=navbar]');
  if (bar) {
    const labels = [...bar.querySelectorAll('.nav-link-title, .cl-brand-text, [data-testid=user-name]')].filter(visible);
    labels.filter((el) => lines(el) > 1).forEach((el) => out.push('top bar item wraps: ' + el.textContent.trim()));
    const tops = new Set([...bar.querySelectorAll('[data-nav-bar] > li')].filter(visible)
                        .map((li) => Math.round(li.getBoundingClientRect().top)));
    if (tops.size > 1 && innerWidth >= 768) out.push('top bar on ' + tops.size + ' lines');
  }
  [...document.querySelectorAll('dialog:not([open])')].filter(visible)
    .forEach((d) => out.push('closed dialog drawn: #' + d.id));
  return out;
}"""


# ---- untranslated text in the UI chrome (not in user data) ------------------------------------------------

#: Words a Chinese page may show in Latin letters: acronyms and names people use as they are.
LATIN_OK = {"API", "SLA", "ID", "PDF", "QR", "CSV", "URL", "closeloop", "EN", "CEL", "JSON", "xlsx", "Excel",
            "SMS", "IM", "SMTP", "HTTP", "HTTPS", "ETA", "GPS", "PNG", "JPG", "JPEG", "MB", "KB", "km", "m", "h",
            "min", "s", "HH", "MM", "UTC", "PWA", "Webhook", "webhook", "Token", "TOP", "KPI", "WD",
            "IP", "OK", "v", "CC", "IMAP", "TLS", "STARTTLS", "MX", "Twilio", "Apprise", "PM", "AM", "ZIP", "CRM", "ERP", "SEC", "Standard", "Webhooks"}
#: What an English page may show in Chinese: the other language's own name on the switcher.
CJK_OK = {"中文", "简体中文"}

_UNTRANSLATED = """([lang, data, latinOk, cjkOk]) => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const CHROME = 'nav a, nav button, .navbar .nav-link, .dropdown-item, button, .btn, label, legend, h1, h2, h3, h4, h5, h6, '
    + 'th, .page-title, .page-pretitle, .card-title, .form-label, .form-hint, .empty-title, .empty-subtitle, '
    + '.nav-link, .breadcrumb-item, .subheader, .form-selectgroup-label, .form-check-label, footer';
  // A Latin value (a key such as 'close') is removed only as a whole word, not from inside 'closeloop'.
  const latin = (c) => !!c && /[A-Za-z]/.test(c);
  const strip = (t) => {
    for (const d of data) {
      if (!d || !t.includes(d)) continue;
      if (!(latin(d[0]) && latin(d[d.length - 1]))) { t = t.split(d).join(' '); continue; }
      let out = '', i = 0, j;
      while ((j = t.indexOf(d, i)) !== -1) {
        out += (latin(t[j - 1]) || latin(t[j + d.length])) ? t.slice(i, j + d.length) : t.slice(i, j) + ' ';
        i = j + d.length;
      }
      t = out + t.slice(i);
    }
    return t;
  };
  // Keys, codes and initials are not words of a language: leave out <code>, <kbd>, avatars.
  const OWN = 'code, kbd, samp, .cl-code, .avatar, [data-user-data], [lang]:not(html)';
  const ownText = (el) => { const c = el.cloneNode(true); c.querySelectorAll(OWN).forEach((x) => x.remove());
    return c.textContent || ''; };
  const texts = [];
  document.querySelectorAll(CHROME).forEach((el) => {
    if (!visible(el) || el.closest(OWN)) return;
    texts.push(ownText(el));
  });
  // An input that takes keys (data-keys) shows keys as its example.
  document.querySelectorAll('input[placeholder]:not([data-keys]), textarea[placeholder]:not([data-keys])').forEach((el) => {
    if (visible(el)) texts.push(el.getAttribute('placeholder'));
  });
  const out = new Set();
  for (const raw of texts) {
    const t = strip(raw.replace(/\\s+/g, ' ').trim());
    if (lang === 'en') {
      let rest = t; for (const ok of cjkOk) rest = rest.split(ok).join(' ');
      if (/[\u3400-\u9fff\u3000-\u303f\uff01-\uff5e]/.test(rest)) out.add('Chinese in English UI: ' + raw.trim().slice(0, 80));
    } else {
      // Identifiers people type (sla.escalation, purchase_part, a|b|c) are keys, not English; so are
      // {placeholders}, "quoted values" of an example expression and upper-case tokens (RFC, FREQ=MONTHLY).
      const u = t.replace(/\\{[^}]*\\}/g, ' ').replace(/"[^"]*"/g, ' ');
      const chunks = (u.match(/[A-Za-z0-9_.|<>@:\\/'-]+/g) || []).filter((c) => !/[_.|<>@\\/]/.test(c));
      const words = chunks.flatMap((c) => c.match(/[A-Za-z][A-Za-z'-]+/g) || [])
        .filter((w) => !latinOk.includes(w) && w !== w.toUpperCase());
      if (words.length) out.add('English in Chinese UI: ' + words.slice(0, 4).join(' ') + ' | ' + raw.trim().slice(0, 60));
    }
  }
  return [...out];
}"""


def user_data_texts() -> list[str]:
    """Every text stored in the database (names, titles, codes, labels people typed, JSON values):
    what a page may show in any language. Longest first, so a name is removed before its parts."""
    from django.apps import apps
    from django.db import models

    found: set[str] = set()

    def walk(v):
        if isinstance(v, str):
            if v.strip():
                found.add(v.strip())
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields
                  if isinstance(f, (models.CharField, models.TextField, models.JSONField)) and not f.choices]
        if not fields or model._meta.app_label in ("contenttypes", "auth", "sessions", "admin"):
            continue
        for row in model.objects.values_list(*fields)[:2000]:
            walk(list(row))
    return sorted((t for t in found if len(t) < 300), key=len, reverse=True)


def _seed(world, settings=None):
    from closeloop.connectors.testing import seed_for_tests
    from closeloop.workorders import services
    from closeloop.workorders.lifecycle import S
    from closeloop.workorders.tests.factories import make_wo

    wo = services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "呼吸机报警 无法开机", "site": "site-a", "asset": "SN-A-1",
        "priority": "high", "assignee": "eng_x", "contact": world.contact_a.pk})
    done = make_wo(world, status=S.CONFIRMED, title="监护仪校准 已确认待开票")
    mailbox = _seed_mail(world, wo)
    purchase = _seed_stock(world, wo)
    connector = seed_for_tests(world.admin, wo, settings) if settings is not None else None  # CRM, ERP
    from closeloop.maintenance.services import do_create_plan

    plan = do_create_plan(actor=world.manager, data={"name": "呼吸机季度保养", "type": "repair", "asset": "SN-A-1",
                                                     "every": 3, "unit": "month", "checklist": ["检查气路"]})
    return {"code": wo.code, "done": done.code, "mailbox": mailbox, "purchase": purchase,
            "connector": connector and connector.pk, "plan": plan.pk}


def _seed_stock(world, wo) -> str:
    """Vans, stock, a reservation the van cannot cover (the warning), a reorder point reached, and
    one purchase request (the encoders of one batch past 5 years)."""
    from closeloop.parts import services as parts
    from closeloop.parts.tests.helpers import stock_world
    from closeloop.purchasing import services as purchasing
    from closeloop.purchasing.tests.test_purchasing import encoders

    stock_world(world, bottles=2)
    parts.do_reserve_parts(actor=world.dispatcher, work_order=wo, items=[{"part": "R410A-10", "quantity": 3}])
    parts.do_set_reorder_point(actor=world.manager, data={"part": "R410A-10", "location": "van-x", "minimum": 2,
                                                          "target": 4})
    encoders(world)
    return [pr for pr in purchasing.do_consolidate(actor=world.manager) if pr.source == "age"][0].work_order.code


def _seed_mail(world, wo) -> int:
    """A mailbox that received a reply on the work order and one mail held from a stranger."""
    from email.message import EmailMessage

    from closeloop.mailin import services

    world.contact_a.email = "wang@hospital-a.cn"
    world.contact_a.save()
    mb = services.do_create_mailbox(actor=world.admin, data={
        "name": "报修邮箱", "kind": "imap", "address": "service@hospital-desk.example", "type": "repair",
        "host": "127.0.0.1", "port": 9, "security": "none", "username": "desk", "password": "pw"})
    services.record_poll(mb, "登录被拒绝：[AUTHENTICATIONFAILED] Invalid authentication credentials.")
    for frm, subject, body in ((world.contact_a.email, f"Re: [{wo.code}] 呼吸机报警", "下午两点后科室有人。"),
                               ("zhao@new-clinic.example", "B 超保养", "我们是新开的诊所，B 超想做一次保养。")):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"], m["Message-ID"] = frm, mb.address, subject, f"<{frm}.{len(body)}@x>"
        m.set_content(body)
        services.do_receive_message(bytes(m), mb)
    return mb.pk


def test_every_page_of_every_role_at_both_widths_in_both_languages(world, browser, live_server, settings):
    """Fails on horizontal overflow, a wrapped top-bar item, a closed <dialog> drawn on the page,
    a console error, a CSP violation, a 4xx/5xx (other than the 403 page asked for), or untranslated
    text in the UI chrome (nav, buttons, labels, headings, table headers, placeholders): Chinese on
    an English page, English words (but LATIN_OK) on a Chinese page, user data excepted. With
    CLOSELOOP_SCREENSHOT_DIR set (make screenshots) every page is also saved as a PNG there."""
    import os
    import re
    from pathlib import Path

    from .conftest import _CSP_LISTENER

    ids = _seed(world, settings)
    data = user_data_texts()
    shots = os.environ.get("CLOSELOOP_SCREENSHOT_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for who, landing in LANDINGS.items():
        for lang, locale in LOCALES.items():
            for size, (width, height) in SIZES.items():
                ctx = browser.new_context(base_url=live_server.url, locale=locale, timezone_id="Asia/Shanghai",
                                          viewport={"width": width, "height": height})
                ctx.set_default_timeout(15_000)
                ctx.add_init_script(_CSP_LISTENER)
                page = ctx.new_page()
                errors: list[str] = []
                page.on("console", lambda m, e=errors: m.type == "error" and e.append("console: " + m.text))
                page.on("pageerror", lambda x, e=errors: e.append("page error: " + str(x)))
                page.on("response", lambda r, e=errors: r.status >= 400 and e.append(f"{r.status} {r.url}"))
                page.goto("/login/")
                page.locator("#id_username").fill(who)
                page.locator("#id_password").fill(f"pw-{who}-123")
                page.get_by_test_id("login-submit").click()
                page.wait_for_load_state()
                if not page.url.endswith(landing):
                    problems.append(f"{who}: landed on {page.url}, not {landing}")
                for path, roles in PAGES:
                    if who not in roles:
                        continue
                    url = path.format(**ids)
                    refused = who == "dispatcher" and url == "/dispatch/settings/"
                    errors.clear()
                    response = page.goto(url)
                    where = f"{who} {lang} {size} {url}"
                    if response is None or response.status != (403 if refused else 200):
                        problems.append(f"{where}: HTTP {response and response.status}")
                    found = page.evaluate(_PAGE_PROBLEMS)
                    found += page.evaluate(_UNTRANSLATED, [lang, data, sorted(LATIN_OK), sorted(CJK_OK)])
                    found += page.evaluate("window.__cspViolations || []")
                    found += [e for e in errors if not (refused and e.startswith("403 ") or
                                                        refused and "403" in e and e.startswith("console:"))]
                    problems += [f"{where}: {p}" for p in found]
                    if shots:
                        slug = re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "root"
                        page.screenshot(path=str(Path(shots) / f"{who}-{lang}-{size}-{slug}.png"), full_page=True)
                ctx.close()
    assert problems == [], "\n".join(problems)


# ---- the work order list at a 1280 px laptop: every column inside its card ----------------------------------

_CLIPPED = """() => {
  const out = [];
  document.querySelectorAll('.card table').forEach((t) => {
    const card = t.closest('.card').getBoundingClientRect();
    let box = t.parentElement;
    while (box && box !== document.body && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    const scrolls = box && box !== document.body && box.scrollWidth > box.clientWidth + 1;
    const name = t.dataset.testid || 'table';
    if (scrolls && !box.classList.contains('cl-scroll-x')) out.push(name + ' scrolls inside its card without a hint');
    if (scrolls && t.dataset.testid === 'wo-table' && innerWidth >= 1280) out.push(name + ' does not fit at ' + innerWidth);
    [...t.querySelectorAll('thead th')].forEach((th) => {
      const r = th.getBoundingClientRect();
      if (r.width && r.right > card.right + 1 && !scrolls) out.push(name + ' clipped: ' + th.textContent.trim());
    });
  });
  return out;
}"""


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_work_order_list_fits_its_card_at_1280(world, browse, locale):
    """The last column (created) was clipped inside the list's card at 1280 px: every column is
    inside the card, or the table scrolls inside it with a visible hint."""
    from closeloop.workorders.lifecycle import S
    from closeloop.workorders.tests.factories import make_wo

    # Demo-like rows: long names in the cells that do not wrap (status, site, assignee).
    world.org_a.name, world.site_a.name = "中国医学科学院北京协和医院", "北京协和医院东单院区门诊楼三层设备机房"
    world.org_a.save()
    world.site_a.save()
    world.eng_x.display_name = "欧阳建国（华东一组 高级工程师）"
    world.eng_x.save()
    for i, status in enumerate([S.RESOLVED, S.CONFIRMED, S.WAITING_CUSTOMER, S.IN_PROGRESS]):
        make_wo(world, title=f"数据中心机房精密空调高温告警 第 {i} 台 压缩机无法启动需要更换", priority="urgent",
                status=status)
    for width in (1280, 1440, 1024):
        page = browse(locale=locale, width=width, height=800)
        login(page, "dispatcher")
        page.goto("/work-orders/")
        expect(page.get_by_test_id("wo-table")).to_be_visible()
        found = page.evaluate(_CLIPPED)
        assert found == [], f"{locale} {width}: {found}"
        assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0
