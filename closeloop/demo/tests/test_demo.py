"""`closeloop demo`: the loader on a real database (SQLite and PostgreSQL), at a small scale."""

import re
from collections import defaultdict
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from closeloop.accounts.models import EngineerSkill, Role, Team, User
from closeloop.core import demo_database as core_demo
from closeloop.customers.models import Asset, Contact, Customer, ServiceContract, Site
from closeloop.demo import data as D
from closeloop.demo.models import DemoMarker
from closeloop.demo.services import LOGIN_ROLES, DemoRefused, load_demo
from closeloop.workorders.fields import clean_custom
from closeloop.workorders.lifecycle import TRANSITIONS, WAIT_REASONS, S
from closeloop.workorders.models import CodeCounter, ExternalRef, TimelineEvent, WorkOrder, WorkOrderType
from closeloop.workorders.selectors import apply_search
from closeloop.workorders.services import do_create_work_order

SCALE = 0.05
SHANGHAI = ZoneInfo("Asia/Shanghai")
MILESTONES = ["assigned_at", "accepted_at", "departed_at", "arrived_at", "started_at", "resolved_at", "confirmed_at",
              "invoiced_at", "closed_at", "cancelled_at"]
CODE = re.compile(r"^(WD|PM|SV|AS|PR)(\d{8})(\d{5})$")


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # One Argon2 hash per load plus one per login check is most of these tests' time;
    # test_demo_logins_authenticate_with_demo keeps the real hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def loaded(db):
    result = load_demo(scale=SCALE)
    assert result.loaded
    return result


# ---- static data ------------------------------------------------------------------------------

def test_catalogue_matches_the_brief():
    assert len(D.PROVINCES) == 22
    assert sum(p[3] for p in D.PROVINCES) == 186
    assert sum(t[4] for t in D.TEAMS) == 62
    assert {p[2] for p in D.PROVINCES} == {t[0] for t in D.TEAMS}
    for _full, _short, _team, _w, cities in D.PROVINCES:
        for _city, lat, lon in cities:
            assert 18 < lat < 54 and 73 < lon < 135  # inside mainland China
    assert [t[3] for t in D.WORK_ORDER_TYPES] == ["WD", "PM", "SV", "AS", "PR"]
    for cat in D.FAULTS:
        assert cat in D.EQUIPMENT
    for tag, _cat, _m in D.SKILLS:
        assert tag in D.SKILLS_BY_NAME
    for _p, _w, core, extra in D.ENGINEER_PROFILES + [D.PRODUCTION_PROFILE]:
        assert set(core + extra) <= set(D.SKILLS_BY_NAME)


# ---- load -------------------------------------------------------------------------------------

def test_loads_a_company_into_an_empty_database(loaded):
    assert DemoMarker.objects.get().scale == SCALE
    assert Team.objects.count() == 5
    for team in Team.objects.all():
        assert team.supervisor.role == Role.MANAGER and team.supervisor.team_id == team.pk
        assert team.backup_team_id and team.backup_team_id != team.pk
    assert User.objects.filter(role=Role.ENGINEER).count() == 62
    engineer_skills = EngineerSkill.objects.filter(user__role=Role.ENGINEER).values_list("user", flat=True)
    assert len(set(engineer_skills)) == 62
    assert User.objects.filter(role=Role.ENGINEER, home_latitude__isnull=True).count() == 0
    assert Customer.objects.count() >= 6
    assert WorkOrder.objects.count() == round(3000 * SCALE)
    assert set(WorkOrderType.objects.values_list("prefix", flat=True)) == {"WD", "PM", "SV", "AS", "PR"}
    assert WorkOrderType.objects.get(key="production").process_steps
    for customer in Customer.objects.all():
        contract = ServiceContract.objects.filter(customer=customer).order_by("-starts_on").first()
        assert contract.tier == customer.tier
        assert contract.starts_on <= timezone.localdate() <= contract.ends_on
        assert 1 <= customer.contacts.count() <= 3
    # every status but the rare ones shows up even at this scale
    assert {S.CLOSED, S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.RESOLVED} <= set(
        WorkOrder.objects.values_list("status", flat=True))


def test_each_customers_people_places_and_things_are_its_own(loaded):
    # The loops below check every row; make sure there are rows to check.
    assert Site.objects.exists() and Contact.objects.exists() and Asset.objects.exists()
    assert User.objects.filter(role=Role.CUSTOMER).exists() and WorkOrder.objects.filter(asset__isnull=False).exists()
    for site in Site.objects.all():
        assert site.latitude is not None and site.grade in D.GRADES
    for contact in Contact.objects.select_related("site"):
        assert contact.site is None or contact.site.customer_id == contact.customer_id
        assert re.fullmatch(r"1380000\d{4}", contact.phone)
    for asset in Asset.objects.select_related("site"):
        assert asset.site.customer_id == asset.customer_id
        assert asset.nameplate["序列号"] == asset.serial_number
        assert asset.install_date < timezone.localdate()
    for user in User.objects.filter(role=Role.CUSTOMER):
        assert user.customer_id is not None
    for wo in WorkOrder.objects.select_related("site", "asset", "contact", "wo_type"):
        for related in (wo.site, wo.asset, wo.contact):
            assert related is None or related.customer_id == wo.customer_id
        if wo.asset_id:
            assert wo.asset.site_id == wo.site_id
        if wo.wo_type.kind == "production":
            assert wo.customer_id is None
        else:
            assert wo.customer_id is not None
        assert clean_custom(wo.wo_type, wo.custom) == wo.custom  # custom values pass the real validation


def _replay(wo: WorkOrder, events: list[TimelineEvent]) -> None:
    """Walk the timeline with the state machine's rules and compare with the row."""
    first = events[0]
    assert first.kind == TimelineEvent.Kind.CREATED and first.to_state == S.NEW and first.at == wo.created_at
    assert first.actor_id == wo.created_by_id
    status, resume_to, assignee, version = S.NEW, "", None, 1
    milestones = dict.fromkeys(MILESTONES)
    last = first.at
    for ev in events[1:]:
        assert ev.at >= last, (wo.code, ev)
        last = ev.at
        if ev.kind != TimelineEvent.Kind.TRANSITION:
            continue
        t = TRANSITIONS[ev.action]
        assert ev.from_state == status and status in t.sources, (wo.code, ev.action, status)
        if t.action == "wait":
            target = WAIT_REASONS[ev.data["reason"]]
            resume_to = status
        elif t.action == "resume":
            target, resume_to = resume_to, ""
        elif t.action == "reopen":
            target = S.ASSIGNED if assignee else S.NEW
            for col in ("resolved_at", "confirmed_at", "invoiced_at", "closed_at", "cancelled_at"):
                milestones[col] = None
        else:
            target = t.target
        assert ev.to_state == target
        if t.action == "assign":
            assignee = ev.data["assignee"]
            assert User.objects.get(username=assignee).role == Role.ENGINEER
        elif t.action == "complete":
            assert ev.data["resolution"]
        elif t.action == "invoice":
            assert ev.data["invoice_number"] == wo.invoice_number
        if t.milestone and milestones[t.milestone] is None:
            milestones[t.milestone] = ev.at
        status = target
        version += 1
    assert wo.status == status
    assert wo.resume_to == resume_to
    assert wo.version == version
    assert wo.updated_at == last
    assert (wo.assignee.username if wo.assignee_id else None) == assignee
    assert {m: getattr(wo, m) for m in MILESTONES} == milestones, wo.code
    if wo.resolved_at:
        assert wo.resolution


def _check_timelines():
    by_wo = defaultdict(list)
    for ev in TimelineEvent.objects.order_by("id"):
        by_wo[ev.work_order_id].append(ev)
    later = timezone.now() + timedelta(seconds=1)
    for wo in WorkOrder.objects.select_related("assignee"):
        events = by_wo[wo.pk]
        _replay(wo, events)
        assert events[-1].at <= later
    # ids follow time: the timeline is ordered by id everywhere
    ats = list(TimelineEvent.objects.order_by("id").values_list("at", flat=True))
    assert ats == sorted(ats)


def test_every_milestone_matches_its_timeline(loaded):
    _check_timelines()
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.COMMENT, public=True).exists()
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.COMMENT, public=False).exists()


@pytest.mark.parametrize("local_time", ["00:02", "06:30", "23:59"])
def test_timelines_stay_consistent_whatever_the_time_of_day(db, local_time):
    hour, minute = map(int, local_time.split(":"))
    with time_machine.travel(datetime(2026, 3, 10, hour, minute, tzinfo=SHANGHAI), tick=False):
        load_demo(scale=SCALE)
        _check_timelines()
        _check_codes()


def _check_codes():
    codes = list(WorkOrder.objects.order_by("id").values_list("code", "created_at", "wo_type__prefix"))
    assert len({c for c, _a, _p in codes}) == len(codes)
    seqs = defaultdict(list)
    for code, created_at, prefix in codes:
        m = CODE.match(code)
        assert m and m.group(1) == prefix, code
        day = timezone.localdate(created_at, timezone=SHANGHAI)
        assert m.group(2) == f"{day:%Y%m%d}", (code, created_at)
        seqs[(prefix, day)].append(int(m.group(3)))
    for (prefix, day), numbers in seqs.items():
        assert numbers == list(range(1, len(numbers) + 1)), (prefix, day)  # in creation (= id) order
        assert CodeCounter.objects.get(prefix=prefix, day=day).value == len(numbers)
    assert CodeCounter.objects.count() == len(seqs)


def test_codes_are_unique_well_formed_and_counted(loaded):
    _check_codes()


def test_a_work_order_created_after_the_load_gets_the_next_free_code(loaded):
    dispatcher = User.objects.get(username="dispatcher")
    asset = Asset.objects.filter(category="呼吸机").first()
    today = timezone.localdate(timezone=timezone.get_default_timezone())  # codes use the business zone
    before = CodeCounter.objects.filter(prefix="WD", day=today).values_list("value", flat=True).first() or 0
    wo = do_create_work_order(actor=dispatcher, data={
        "type": "repair", "title": "呼吸机报警: 气道压力高", "asset": asset.serial_number,
        "custom": {"symptom": "报警", "downtime": True}})
    assert wo.code == f"WD{today:%Y%m%d}{before + 1:05d}"
    assert WorkOrder.objects.filter(code=wo.code).count() == 1
    assert wo.customer_id == asset.customer_id


def test_demo_logins_authenticate_with_demo(loaded):
    for username, role in LOGIN_ROLES:
        user = authenticate(username=username, password="demo")
        assert user is not None, username
        assert user.role == role and user.display_name
    assert authenticate(username="admin", password="demo").is_superuser
    assert authenticate(username="eng002", password="demo").role == Role.ENGINEER
    assert authenticate(username="admin", password="wrong") is None
    # company people are logins too, each with a Chinese display name
    for user in User.objects.all():
        assert user.has_usable_password() and re.search(r"[\u4e00-\u9fff]", user.display_name), user.username


def test_demo_password_uses_the_real_hasher(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    load_demo(scale=SCALE)
    engineer = authenticate(username="engineer", password="demo")
    assert engineer is not None and engineer.password.startswith("argon2")
    # one hash for everyone (hashing ~260 times would cost minutes): all accept "demo" alike
    assert set(User.objects.values_list("password", flat=True)) == {engineer.password}


def test_the_engineer_login_has_a_team_skills_and_work_today(loaded):
    engineer = User.objects.get(username="engineer")
    assert engineer.team.code == "east" and engineer.home_latitude is not None
    assert engineer.skills.count() >= 2
    today = timezone.localdate()
    mine = WorkOrder.objects.filter(assignee=engineer, assigned_at__isnull=False)
    today_open = [wo for wo in mine if timezone.localdate(wo.assigned_at) == today and wo.status not in
                  (S.CLOSED, S.CANCELLED)]
    assert len(today_open) >= 4
    customer = User.objects.get(username="customer")
    assert customer.customer.name == "浙江省人民医院"
    statuses = set(WorkOrder.objects.filter(customer=customer.customer).values_list("status", flat=True))
    assert {S.NEW, S.RESOLVED, S.CLOSED} <= statuses  # something to follow, to confirm and to look back on


def test_search_finds_demo_work_orders(loaded):
    wo = WorkOrder.objects.filter(asset__isnull=False).select_related("customer", "asset").first()
    for q in (wo.code, wo.title[:4], wo.customer.name, wo.asset.serial_number):
        assert apply_search(WorkOrder.objects.all(), q).filter(pk=wo.pk).exists(), q
    ref = ExternalRef.objects.first()
    assert apply_search(WorkOrder.objects.all(), ref.external_id).filter(pk=ref.work_order_id).exists()


# ---- idempotence, determinism, refusals --------------------------------------------------------

def _fingerprint(with_times: bool = True):
    def t(value):
        return value if with_times else None

    users = list(User.objects.order_by("username").values_list("username", "display_name", "role", "team__code",
                                                                "customer__code", "phone"))
    assets = list(Asset.objects.order_by("serial_number").values_list("serial_number", "name", "model",
                                                                        "customer__code", "site__code"))
    wos = [(w.code, w.status, w.title, w.priority, w.custom, w.assignee.username if w.assignee_id else None,
            t(w.created_at), t(w.closed_at), w.version)
           for w in WorkOrder.objects.select_related("assignee").order_by("code")]
    events = list(TimelineEvent.objects.order_by("work_order__code", "id").values_list(
        "work_order__code", "kind", "action", "to_state", "actor__username", "public"))
    events_data = [e.data for e in TimelineEvent.objects.order_by("work_order__code", "id")
                   if e.kind != TimelineEvent.Kind.TRANSITION or e.action != "arrive"] if with_times else []
    return users, assets, wos, events, events_data


def test_second_run_does_nothing(loaded):
    before = _fingerprint()
    again = load_demo(scale=SCALE)
    assert not again.loaded
    assert _fingerprint() == before
    out = StringIO()
    call_command("demo", "--scale", str(SCALE), stdout=out)
    assert "already loaded" in out.getvalue() or "已" in out.getvalue()
    assert "customer" in out.getvalue() and "demo" in out.getvalue()


def test_reset_reloads_identical_data(db):
    with time_machine.travel(datetime(2026, 5, 20, 10, 15, tzinfo=SHANGHAI), tick=False):
        load_demo(scale=SCALE)
        first = _fingerprint()
        result = load_demo(scale=SCALE, reset=True)
        assert result.loaded and result.reset
        assert _fingerprint() == first
        _check_codes()


def test_the_time_of_day_changes_timestamps_only(db):
    with time_machine.travel(datetime(2026, 5, 20, 8, 0, tzinfo=SHANGHAI), tick=False):
        load_demo(scale=SCALE)
        morning = _fingerprint(with_times=False)
    with time_machine.travel(datetime(2026, 5, 20, 22, 0, tzinfo=SHANGHAI), tick=False):
        load_demo(scale=SCALE, reset=True)
        assert _fingerprint(with_times=False) == morning


def test_refuses_a_database_with_other_data_unless_forced(db):
    User.objects.create(username="someone", role=Role.DISPATCHER)
    with pytest.raises(DemoRefused, match="--force"):
        load_demo(scale=SCALE)
    assert not DemoMarker.objects.exists() and not WorkOrder.objects.exists()
    result = load_demo(scale=SCALE, force=True)
    assert result.loaded and result.marker.mixed
    # the demo now lives next to other data: a reset would delete that too
    with pytest.raises(DemoRefused, match="--reset"):
        load_demo(scale=SCALE, reset=True)
    assert User.objects.filter(username="someone").exists()


def test_force_refuses_names_that_are_taken(db):
    User.objects.create(username="admin", role=Role.ADMIN)
    with pytest.raises(DemoRefused, match="admin"):
        load_demo(scale=SCALE, force=True)
    assert not DemoMarker.objects.exists() and not Customer.objects.exists()


def test_command_prints_logins_and_reports_refusals(db):
    out = StringIO()
    call_command("demo", "--scale", str(SCALE), stdout=out)
    text = out.getvalue()
    for username, _role in LOGIN_ROLES:
        assert username in text
    assert "http://127.0.0.1:" in text
    first = WorkOrder.objects.count()
    call_command("demo", "--scale", str(SCALE), "--reset", stdout=StringIO())
    # The generated company plus what the apps' scenarios add (the two SLA showcase work orders,
    # the maintenance alarm's preventive order, the purchase request, ...): the same after a reset.
    assert DemoMarker.objects.count() == 1 and WorkOrder.objects.count() == first
    assert first >= round(3000 * SCALE) + 2
    with pytest.raises(CommandError):
        call_command("demo", "--scale", "0", stdout=StringIO())


def test_reset_forgets_the_cached_reference_rows(db):
    """The reset wipes with TRUNCATE (no model signals) and starts the ids again: a create after
    it must not name a work order type (or team, policy...) cached from before the wipe."""
    # Take the first ids, so the types loaded before the reset get other ids than those after it.
    WorkOrderType.objects.create(key="gone", name="gone", prefix="GO").delete()
    # The command, not only the loader: each app's scenario creates work orders through the
    # services (types by key, from the cache) after the load, before and after the reset.
    call_command("demo", "--scale", str(SCALE), stdout=StringIO())
    call_command("demo", "--scale", str(SCALE), "--reset", stdout=StringIO())
    types = {t.pk: t for t in WorkOrderType.objects.all()}
    for code, type_id in WorkOrder.objects.values_list("code", "wo_type_id"):
        assert type_id in types, code
        assert code.startswith(types[type_id].prefix), (code, types[type_id].key)


def test_demo_badge_follows_the_marker(db, settings):
    settings.DEMO_MODE = False
    core_demo.forget_cached_marker()
    assert core_demo.is_demo_database() is False
    load_demo(scale=SCALE)
    assert core_demo.is_demo_database() is True
    from closeloop.core.context_processors import closeloop

    assert closeloop(None)["DEMO_MODE"] is True
