"""Loading the demo company: `load_demo` (used by `closeloop demo`).

A medical-device service provider with 22 provinces, ~186 hospitals, ~1,500 assets,
62 engineers in 5 teams and ~3,000 work orders over the last 90 days, generated from
`random.Random(2026)` so two loads give the same data; only timestamps move with
`closeloop.core.clock.now()`.

How it stays consistent with the real write path:

- Each work order is planned as a list of steps (create, transitions, comments,
  external refs), generated before any clock is read. `_WorkOrderState.apply`
  replays the transitions with the same rules as `workorders.services._apply_transition`
  (sources, targets, milestones set on first success, resume_to, reopen clearing,
  version bumps, event data), and refuses a step the state machine would refuse.
- Timestamps come last: the creation time is a fixed day (today minus N, business time
  zone) and time of day; step gaps are natural durations, squeezed when they would run
  past now. So codes (prefix + YYYYMMDD + daily sequence) and states never depend on
  what time it is, and CodeCounter rows are written to the last number used per day.
- Rows go in with bulk_create inside one transaction: all or nothing.

It writes rows directly and does not run lifecycle hooks (`register_effect`): side
tables that later features keep from those hooks are not filled for demo data.
"""

import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.accounts.models import EngineerSkill, Role, SkillTag, Team, User
from closeloop.core.clock import now as clock_now
from closeloop.core.demo_database import forget_cached_marker
from closeloop.core.errors import DomainError
from closeloop.customers.models import Asset, Contact, Customer, ServiceContract, Site
from closeloop.workorders.lifecycle import TRANSITIONS, WAIT_REASONS, S
from closeloop.workorders.models import (
    CodeCounter,
    CustomField,
    ExternalRef,
    TimelineEvent,
    WorkOrder,
    WorkOrderType,
)
from closeloop.workorders.services import search_document_for

from . import data as D
from .models import DemoMarker

SEED = 2026
DATA_VERSION = 1
PASSWORD = "demo"
DAYS = 90
FULL_HOSPITALS = sum(p[3] for p in D.PROVINCES)  # 186
FULL_WORK_ORDERS = 3000
MIN_HOSPITALS = 6
MAX_SCALE = 5.0
#: The hospital whose contact is the `customer` login, and the `engineer` login's home.
HOME_PROVINCE = "浙江"
HOME_CITY = "杭州"
BATCH = 2000

#: The demo logins (public contract, DESIGN.md §5), besides the company's own people.
LOGIN_ROLES = [("admin", Role.ADMIN), ("manager", Role.MANAGER), ("dispatcher", Role.DISPATCHER),
               ("engineer", Role.ENGINEER), ("customer", Role.CUSTOMER), ("finance", Role.FINANCE)]


class DemoRefused(DomainError):
    def __init__(self, message: str):
        super().__init__(message, 409, "demo_refused")


@dataclass
class LoadResult:
    loaded: bool
    marker: DemoMarker
    seconds: float = 0.0
    reset: bool = False


# ---- entry point ------------------------------------------------------------------------------

def load_demo(*, scale: float = 1.0, reset: bool = False, force: bool = False, seed: int = SEED,
              using: str = DEFAULT_DB_ALIAS) -> LoadResult:
    """Load the demo company, or do nothing when it is already loaded.

    reset: when the database holds the demo (and only the demo), wipe it and load again.
    force: load even though the database already holds other data (refused otherwise).
    """
    if not 0 < scale <= MAX_SCALE:
        raise DemoRefused(_("The scale must be greater than 0 and at most %(max)s.") % {"max": MAX_SCALE})
    started = time.perf_counter()
    with transaction.atomic(using=using):
        marker = DemoMarker.objects.using(using).filter(pk=1).first()
        did_reset = False
        if marker is not None and not reset:
            return LoadResult(False, marker)
        if marker is not None:
            if marker.mixed:
                raise DemoRefused(_(
                    "This database holds other data besides the demo (it was loaded with --force), so --reset "
                    "would delete that too. Use a fresh database for the demo instead."))
            # Nothing but the demo (and what people did in it) lives here: wipe every table.
            # (PostgreSQL refuses TRUNCATE while deferred FK checks are pending in this transaction.)
            _set_constraints(using, "IMMEDIATE")
            call_command("flush", interactive=False, verbosity=0, database=using)
            _set_constraints(using, "DEFERRED")
            did_reset = True
        existing = _existing_data(using)
        if existing and not force:
            raise DemoRefused(_(
                "This database already holds data (%(what)s) and no demo. Load the demo into an empty database "
                "(e.g. CLOSELOOP_DATA_DIR=/tmp/demo), or pass --force to add it next to that data.")
                % {"what": ", ".join(existing)})
        t = clock_now()
        try:
            # Insert the marker first: a second loader running at the same time waits on it,
            # then finds the demo loaded (PostgreSQL) instead of colliding row by row.
            with transaction.atomic(using=using):
                marker = DemoMarker.objects.using(using).create(
                    pk=1, loaded_at=t, seed=seed, scale=scale, data_version=DATA_VERSION, mixed=bool(existing))
        except IntegrityError:
            return LoadResult(False, DemoMarker.objects.using(using).get(pk=1))
        builder = Builder(seed=seed, scale=scale, now=t)
        builder.build()
        if existing:
            builder.check_conflicts(using)
        counts = builder.save(using)
        marker.summary = {"counts": counts, "seconds": round(time.perf_counter() - started, 2)}
        marker.save(using=using, update_fields=["summary"])
    forget_cached_marker()
    return LoadResult(True, marker, time.perf_counter() - started, did_reset)


def _set_constraints(using: str, mode: str) -> None:
    conn = connections[using]
    if conn.vendor == "postgresql":
        with conn.cursor() as cur:
            cur.execute(f"SET CONSTRAINTS ALL {mode}")


def _existing_data(using: str) -> list[str]:
    """Names of the kinds of non-demo rows the database already holds."""
    kinds = [(User, _("users")), (Team, _("teams")), (Customer, _("customers")),
             (WorkOrderType, _("work order types")), (WorkOrder, _("work orders")), (SkillTag, _("skill tags"))]
    return [str(label) for model, label in kinds if model.objects.using(using).exists()]


def demo_logins() -> list[tuple[str, str]]:
    return [(username, role.value) for username, role in LOGIN_ROLES]


# ---- in-memory world ---------------------------------------------------------------------------

@dataclass
class Hospital:
    index: int  # position in the full list (stable across scales)
    rank: int  # position within its province
    name: str
    grade: str
    province: tuple
    city: tuple
    customer: Customer | None = None
    sites: list = field(default_factory=list)
    contacts: list = field(default_factory=list)
    assets: list = field(default_factory=list)
    user: User | None = None  # the contact with a portal login

    @property
    def team_code(self) -> str:
        return self.province[2]


@dataclass
class Step:
    gap: float  # minutes after the previous step (natural duration, squeezed if needed)
    kind: str
    action: str = ""
    actor: User | None = None
    inp: dict = field(default_factory=dict)  # transition input (as services._clean_action_input returns it)
    body: str = ""  # comment text
    public: bool = False
    ref: tuple | None = None  # (system, id) for an external-ref step


@dataclass
class Plan:
    index: int
    d: int  # days before today (business time zone)
    tod: int  # seconds after midnight
    wo: WorkOrder
    steps: list
    created_refs: list  # [(system, id)]
    created_by: User | None
    #: Share of the time left until now that a squeezed (too recent) timeline may use.
    slack: float = 0.9


class Builder:
    def __init__(self, *, seed: int, scale: float, now: datetime):
        self.rng = random.Random(seed)
        self.scale = scale
        self.now = now
        self.tz = timezone.get_default_timezone()
        self.today = timezone.localdate(now, timezone=self.tz)
        self.names: set[str] = set()
        self.password = make_password(PASSWORD)
        self.types: dict[str, WorkOrderType] = {}
        self.fields: list[CustomField] = []
        self.tags: dict[str, SkillTag] = {}
        self.teams: dict[str, Team] = {}
        self.users: list[User] = []
        self.skills: list[EngineerSkill] = []
        self.skill_map: dict[int, list[tuple[str, int]]] = {}  # id(user) -> [(tag, level)]
        self.engineers: dict[str, list[User]] = defaultdict(list)  # team -> field engineers
        self.production_techs: list[User] = []
        self.supervisors: dict[str, User] = {}
        self.dispatchers: list[User] = []
        self.finance: list[User] = []
        self.hospitals: list[Hospital] = []
        self.customers: list[Customer] = []
        self.sites: list[Site] = []
        self.contacts: list[Contact] = []
        self.assets: list[Asset] = []
        self.asset_dept: dict[int, str] = {}
        self.contracts: list[ServiceContract] = []
        self.plans: list[Plan] = []
        self.counters = Counter()
        self.login: dict[str, User] = {}

    # -- helpers --
    def person(self) -> str:
        rng = self.rng
        while True:
            name = rng.choice(D.SURNAMES) + rng.choice(D.GIVEN_NAMES)
            if name not in self.names:
                self.names.add(name)
                return name

    def seq(self, key: str) -> int:
        self.counters[key] += 1
        return self.counters[key]

    def jitter(self, lat: float, lon: float, spread: float) -> tuple[float, float]:
        return (round(lat + self.rng.uniform(-spread, spread), 6), round(lon + self.rng.uniform(-spread, spread), 6))

    def make_user(self, username: str, role: str, name: str, **kw) -> User:
        n = self.seq("staff_phone") if role != Role.CUSTOMER else None
        u = User(username=username, role=role, display_name=name, password=self.password, is_active=True,
                 email=kw.pop("email", f"{username}@demo.closeloop.example"),
                 phone=kw.pop("phone", f"1390000{n:04d}" if n else ""), language="zh-hans",
                 date_joined=self.now, **kw)
        self.users.append(u)
        return u

    # -- build --
    def build(self) -> None:
        self.build_types()
        self.build_skills()
        self.build_hospitals()
        self.build_staff()
        self.build_work_orders()

    def build_types(self) -> None:
        for key, name, kind, prefix, description, steps, fields, _share in D.WORK_ORDER_TYPES:
            t = WorkOrderType(key=key, name=name, kind=kind, prefix=prefix, description=description,
                              process_steps=list(steps), active=True)
            self.types[key] = t
            for order, (fkey, label, fkind, required, extra) in enumerate(fields):
                self.fields.append(CustomField(wo_type=t, key=fkey, label=label, kind=fkind, required=required,
                                               order=order, **extra))

    def build_skills(self) -> None:
        for tag, category, _matches in D.SKILLS:
            self.tags[tag] = SkillTag(name=tag, category=category)

    def build_hospitals(self) -> None:
        rng = self.rng
        everyone: list[Hospital] = []
        for province in D.PROVINCES:
            pfull, pshort, _team, weight, cities = province
            for rank, (name, grade_weights, city) in enumerate(self._candidates(province)[:weight]):
                grade = rng.choices(D.GRADES, weights=grade_weights)[0]
                everyone.append(Hospital(len(everyone), rank, name, grade, province, city))
        n = max(MIN_HOSPITALS, min(len(everyone), round(FULL_HOSPITALS * self.scale)))
        order = sorted(everyone, key=lambda h: (h.rank, h.province[1] != HOME_PROVINCE, h.index))
        chosen = sorted(order[:n], key=lambda h: h.index)
        if self.scale > 1:
            # Beyond full scale, repeat the country with numbered branches ("分院").
            extra = round(FULL_HOSPITALS * self.scale) - len(everyone)
            for i in range(extra):
                base = everyone[i % len(everyone)]
                chosen.append(Hospital(len(everyone) + i, base.rank + 100, f"{base.name}第{i // len(everyone) + 2}分院",
                                       base.grade, base.province, base.city))
        for h in chosen:
            self._hospital(h)
        self.hospitals = chosen
        self.home_hospital = next(h for h in chosen if h.province[1] == HOME_PROVINCE and h.rank == 0)

    def _candidates(self, province) -> list[tuple[str, tuple, tuple]]:
        """Hospital names for a province, most important first: round r takes the r-th
        pattern of the province level, of each city and of each district."""
        pfull, pshort, _team, _weight, cities = province
        lists: list[list] = [[(p.format(P=pfull, S=pshort), w, cities[0]) for p, w in D.HOSPITAL_PATTERNS_PROVINCE]]
        for city in cities:
            lists.append([(p.format(C=city[0]), w, city) for p, w in D.HOSPITAL_PATTERNS_CITY])
        for dname in D.DISTRICTS.get(pshort, []):
            lists.append([(p.format(C=cities[0][0], D=dname), w, cities[0]) for p, w in D.HOSPITAL_PATTERNS_DISTRICT])
        out, seen = [], set()
        for r in range(max(len(x) for x in lists)):
            for lst in lists:
                if r < len(lst) and lst[r][0] not in seen:
                    seen.add(lst[r][0])
                    out.append(lst[r])
        return out

    def _hospital(self, h: Hospital) -> None:
        rng = self.rng
        pfull, pshort, _team, _w, _cities = h.province
        city, lat, lon = h.city
        municipality = pshort in D.DISTRICTS
        code = f"h{h.index + 1:03d}"
        contract_tier = rng.choices(D.TIERS, weights=D.TIER_WEIGHTS[h.grade])[0]
        h.customer = Customer(code=code, name=h.name, tier=contract_tier, province=pfull,
                              notes=f"{h.grade}医院, 合同等级 {contract_tier}")
        self.customers.append(h.customer)
        # sites
        lat, lon = self.jitter(lat, lon, 0.2 if municipality else 0.1)
        prefix = pfull if not municipality else ""
        campuses = [("main", "", 0.0, 0.0)]
        extra = {"三级甲等": rng.choices([0, 1, 2], weights=[6, 3, 1])[0], "三级乙等": rng.choices([0, 1], [5, 1])[0]}
        for i, (campus, dlat, dlon) in enumerate(D.CAMPUSES[: extra.get(h.grade, 0)]):
            campuses.append(("ewsn"[i], campus, dlat, dlon))
        for suffix, campus, dlat, dlon in campuses:
            road = rng.choice(D.ROADS)
            site = Site(customer=h.customer, code=f"{code}-{suffix}", name=h.name + campus, province=pfull,
                        city=city, address=f"{prefix}{city}市{road}路{rng.randint(1, 999)}号",
                        latitude=round(lat + dlat, 6), longitude=round(lon + dlon, 6), grade=h.grade)
            h.sites.append(site)
            self.sites.append(site)
        # contacts (1-3)
        n_contacts = {"三级甲等": rng.randint(2, 3), "三级乙等": rng.randint(1, 3)}.get(h.grade, rng.randint(1, 2))
        titles = rng.sample(D.CONTACT_TITLES, n_contacts)
        titles.sort(key=lambda t: not t.startswith("设备科"))  # the first contact: 设备科
        for i in range(n_contacts):
            n = self.seq("contact")
            contact = Contact(customer=h.customer, site=h.sites[0] if i == 0 else rng.choice(h.sites),
                              name=self.person(), phone=f"1380000{n:04d}", email=f"contact{n:04d}@hospital.example",
                              title=titles[i])
            h.contacts.append(contact)
            self.contacts.append(contact)
        # contracts: the current one sets the tier; some customers also have an expired one
        age = rng.randint(20, 700)
        years = rng.choice([1, 2, 3])
        years = max(years, math.ceil((age + 30) / 365))
        starts = self.today - timedelta(days=age)
        n = self.seq("contract")
        self.contracts.append(ServiceContract(customer=h.customer, number=f"SC-{code.upper()}-{n:04d}",
                                              tier=contract_tier, starts_on=starts,
                                              ends_on=starts + timedelta(days=365 * years - 1)))
        if rng.random() < 0.25:
            prev_tier = D.TIERS[max(0, D.TIERS.index(contract_tier) - 1)]
            self.contracts.append(ServiceContract(customer=h.customer, number=f"SC-{code.upper()}-{n:04d}-P",
                                                  tier=prev_tier, starts_on=starts - timedelta(days=365),
                                                  ends_on=starts - timedelta(days=1)))
        # assets
        lo, hi = D.ASSETS_PER_GRADE[h.grade]
        count = rng.randint(lo, hi)
        column = D.GRADES.index(h.grade)
        cats = list(D.EQUIPMENT)
        weights = [D.EQUIPMENT[c][3][column] for c in cats]
        chosen = rng.choices(cats, weights=weights, k=count)
        if h.province[1] == HOME_PROVINCE and h.rank == 0:
            chosen = ["呼吸机", "监护仪", "CT"] + chosen  # the scripted stories need these
        per_name = Counter()
        for cat in chosen:
            self._asset(h, cat, per_name)

    def _asset(self, h: Hospital, cat: str, per_name: Counter) -> None:
        rng = self.rng
        cat_code, depts, makers, _gw = D.EQUIPMENT[cat]
        maker, maker_code, model, _w, imported = rng.choices(makers, weights=[m[3] for m in makers])[0]
        dept = rng.choice(depts)
        site = h.sites[0] if len(h.sites) == 1 or rng.random() < 0.7 else rng.choice(h.sites[1:])
        per_name[(site.code, dept, cat)] += 1
        n = self.seq("asset")
        serial = f"{maker_code}{cat_code}{rng.randint(100, 999)}{n:05d}"
        installed = self.today - timedelta(days=rng.randint(60, 4200))
        made = installed - timedelta(days=rng.randint(20, 150))
        voltage, power = D.NAMEPLATE_POWER[cat]
        reg = f"国械注{'进' if imported else '准'}20{rng.randint(14, 23)}3{rng.randint(0, 9)}{rng.randint(1000, 9999)}"
        asset = Asset(
            customer=h.customer, site=site, name=f"{dept}{cat}{per_name[(site.code, dept, cat)]}号", category=cat,
            manufacturer=maker, model=model, serial_number=serial, install_date=installed,
            batch=f"{model.split()[0]}-{installed.year}{'AB'[installed.month > 6]}",
            nameplate={"制造商": maker, "型号": model, "序列号": serial, "额定电压": voltage, "额定功率": power,
                       "生产日期": made.strftime("%Y-%m"), "注册证编号": reg},
        )
        h.assets.append(asset)
        self.assets.append(asset)
        self.asset_dept[id(asset)] = dept

    def build_staff(self) -> None:
        rng = self.rng
        team_cities: dict[str, list] = defaultdict(list)
        for pfull, _short, team, _w, cities in D.PROVINCES:
            for city in cities:
                team_cities[team].append((pfull, city))
        self.login["admin"] = self.make_user("admin", Role.ADMIN, "系统管理员", is_superuser=True, is_staff=True)
        for code, name, region, _backup, _n, _city in D.TEAMS:
            self.teams[code] = Team(name=name, code=code, region=region)
        # managers: one supervisor per team; the east one is the `manager` login
        for i, (code, _name, _region, _backup, _n, home) in enumerate(D.TEAMS):
            username = "manager" if i == 0 else f"mgr{i + 1:03d}"
            pfull, city = next((p, c) for p, c in team_cities[code] if c[0] == home)
            lat, lon = self.jitter(city[1], city[2], 0.03)
            u = self.make_user(username, Role.MANAGER, self.person(), team=self.teams[code],
                               home_base=f"{pfull if pfull[:2] != city[0] else ''}{city[0]}市",
                               home_latitude=lat, home_longitude=lon)
            self.supervisors[code] = u
        self.login["manager"] = self.supervisors["east"]
        for i in range(4):
            self.dispatchers.append(self.make_user("dispatcher" if i == 0 else f"dsp{i + 1:03d}", Role.DISPATCHER,
                                                   self.person()))
        self.login["dispatcher"] = self.dispatchers[0]
        for i in range(2):
            self.finance.append(self.make_user("finance" if i == 0 else f"fin{i + 1:03d}", Role.FINANCE,
                                               self.person()))
        self.login["finance"] = self.finance[0]
        # engineers: 62 in all; the first (east, 杭州, life support) is the `engineer` login
        number = 0
        for code, _name, _region, _backup, n, _home in D.TEAMS:
            for k in range(n):
                number += 1
                if code == "east" and k >= n - D.PRODUCTION_TECHNICIANS:
                    profile = D.PRODUCTION_PROFILE
                    pfull, city = next((p, c) for p, c in team_cities[code] if c[0] == HOME_CITY)
                elif number == 1:
                    profile = D.ENGINEER_PROFILES[1]
                    pfull, city = next((p, c) for p, c in team_cities[code] if c[0] == HOME_CITY)
                else:
                    profile = rng.choices(D.ENGINEER_PROFILES, weights=[p[1] for p in D.ENGINEER_PROFILES])[0]
                    pfull, city = rng.choice(team_cities[code])
                lat, lon = self.jitter(city[1], city[2], 0.05)
                username = "engineer" if number == 1 else f"eng{number:03d}"
                u = self.make_user(username, Role.ENGINEER, self.person(), team=self.teams[code],
                                   home_base=f"{pfull if pfull[:2] != city[0] else ''}{city[0]}市",
                                   home_latitude=lat, home_longitude=lon)
                _pname, _pw, core, extra = profile
                tags = list(core) + rng.sample(extra, k=min(len(extra), rng.randint(1, 3)))
                skills = []
                for j, tag in enumerate(tags):
                    level = rng.choices([1, 2, 3, 4, 5], weights=[1, 3, 4, 3, 1])[0]
                    if number == 1 and j == 0:
                        level = 4
                    skills.append((tag, level))
                    self.skills.append(EngineerSkill(user=u, tag=self.tags[tag], level=level))
                self.skill_map[id(u)] = skills
                if profile is D.PRODUCTION_PROFILE:
                    self.production_techs.append(u)
                else:
                    self.engineers[code].append(u)
        self.login["engineer"] = self.engineers["east"][0]
        # customer contacts with a portal login: the first contact of each hospital
        ordered = [self.home_hospital] + [h for h in self.hospitals if h is not self.home_hospital]
        for i, h in enumerate(ordered):
            c = h.contacts[0]
            h.user = self.make_user("customer" if i == 0 else f"cust{h.index + 1:03d}", Role.CUSTOMER, c.name,
                                    customer=h.customer, phone=c.phone, email=c.email)
        self.login["customer"] = self.home_hospital.user

    # -- work orders --
    def build_work_orders(self) -> None:
        rng = self.rng
        total = max(20, round(FULL_WORK_ORDERS * self.scale))
        plans = self._scripted()
        type_keys = [t[0] for t in D.WORK_ORDER_TYPES]
        type_weights = [t[7] for t in D.WORK_ORDER_TYPES]
        weights = [len(h.assets) * (4 if h is self.home_hospital else 1) for h in self.hospitals]
        while len(plans) < total:
            d = rng.randrange(DAYS)
            key = rng.choices(type_keys, weights=type_weights)[0]
            hospital = None if key == "production" else rng.choices(self.hospitals, weights=weights)[0]
            plans.append(self._plan(len(plans), d, self._time_of_day(), key, hospital))
        self.plans = plans

    def _time_of_day(self) -> int:
        hour = self.rng.choices(range(24), weights=[1, 1, 1, 1, 1, 1, 2, 4, 9, 10, 10, 8, 5, 6, 9, 9, 8, 6, 4, 3,
                                                     3, 2, 2, 1])[0]
        return hour * 3600 + self.rng.randrange(3600)

    def _scripted(self) -> list[Plan]:
        """Stories the demo logins land on: the engineer's work today, the customer's
        requests in every stage."""
        h = self.home_hospital
        eng = self.login["engineer"]

        def asset(cat):
            return next(a for a in h.assets if a.category == cat)

        specs = [
            # (d, time of day, type, target, asset, fault index, assignee, priority)
            (0, 8 * 3600 + 1200, "repair", S.EN_ROUTE, asset("呼吸机"), 0, eng, "urgent"),
            (0, 9 * 3600 + 300, "repair", S.ASSIGNED, asset("监护仪"), 0, eng, "high"),
            (0, 9 * 3600 + 2400, "preventive", S.ACCEPTED, asset("CT"), None, eng, "normal"),
            (0, 10 * 3600 + 600, "repair", S.ASSIGNED, asset("监护仪"), 1, eng, "normal"),
            (0, 7 * 3600 + 900, "repair", S.IN_PROGRESS, asset("呼吸机"), 2, eng, "high"),
            (0, 11 * 3600, "repair", S.NEW, asset("监护仪"), 2, None, "normal"),
            (1, 15 * 3600, "repair", S.RESOLVED, asset("CT"), 0, None, "high"),
            (2, 10 * 3600, "after_sales", S.WAITING_PARTS, asset("监护仪"), None, None, "normal"),
            (3, 14 * 3600, "repair", S.CONFIRMED, asset("呼吸机"), 1, None, "normal"),
            (12, 9 * 3600, "repair", S.CLOSED, asset("CT"), 2, None, "high"),
        ]
        plans = []
        for d, tod, key, target, a, fault, assignee, priority in specs:
            plans.append(self._plan(len(plans), d, tod, key, h, asset=a, fault=fault, target=target,
                                    assignee=assignee, priority=priority))
        return plans

    def _target(self, d: int, key: str) -> str:
        if d == 0:
            table = {S.NEW: 18, S.ASSIGNED: 20, S.ACCEPTED: 14, S.EN_ROUTE: 10, S.ON_SITE: 10, S.IN_PROGRESS: 14,
                     S.WAITING_CUSTOMER: 4, S.WAITING_PARTS: 3, S.RESOLVED: 6, S.CANCELLED: 1}
        elif d < 4:
            table = {S.NEW: 4, S.ASSIGNED: 8, S.ACCEPTED: 6, S.EN_ROUTE: 4, S.ON_SITE: 6, S.IN_PROGRESS: 10,
                     S.WAITING_CUSTOMER: 5, S.WAITING_PARTS: 7, S.RESOLVED: 18, S.CONFIRMED: 12, S.INVOICED: 7,
                     S.CLOSED: 10, S.CANCELLED: 3}
        elif d < 14:
            table = {S.ACCEPTED: 1, S.ON_SITE: 1, S.IN_PROGRESS: 3, S.WAITING_CUSTOMER: 4, S.WAITING_PARTS: 6,
                     S.RESOLVED: 12, S.CONFIRMED: 15, S.INVOICED: 15, S.CLOSED: 40, S.CANCELLED: 3}
        elif d < 30:
            table = {S.WAITING_CUSTOMER: 1, S.WAITING_PARTS: 2, S.RESOLVED: 5, S.CONFIRMED: 8, S.INVOICED: 10,
                     S.CLOSED: 70, S.CANCELLED: 4}
        else:
            table = {S.RESOLVED: 1, S.CONFIRMED: 2, S.INVOICED: 3, S.CLOSED: 90, S.CANCELLED: 4}
        target = self.rng.choices(list(table), weights=list(table.values()))[0]
        if key == "production" and target in (S.EN_ROUTE, S.ON_SITE):
            target = S.IN_PROGRESS
        return target

    def _pick_engineer(self, team: str, asset: Asset | None, exclude: User | None = None) -> User:
        pool = [u for u in self.engineers[team] if u is not exclude]
        weights = []
        for u in pool:
            score = 1
            for tag, level in self.skill_map[id(u)]:
                for cat, maker in D.SKILLS_BY_NAME[tag]:
                    if asset is not None and cat in ("*", asset.category) and maker in ("*", asset.manufacturer):
                        score += level * (1 if cat == "*" else 3)
            weights.append(score * score)
        return self.rng.choices(pool, weights=weights)[0]

    def _dispatcher(self) -> User:
        return self.rng.choices(self.dispatchers, weights=[4, 2, 2, 2])[0]

    def _plan(self, index: int, d: int, tod: int, key: str, h: Hospital | None, *, asset: Asset | None = None,
              fault: int | None = None, target: str | None = None, assignee: User | None = None,
              priority: str | None = None) -> Plan:
        rng = self.rng
        wo_type = self.types[key]
        wo = WorkOrder(wo_type=wo_type, status=S.NEW)
        refs: list[tuple[str, str]] = []
        creator = self._dispatcher()
        custom: dict = {}
        resolution = ""
        remote = False
        team = h.team_code if h else "east"
        if h is not None:
            asset = asset or rng.choice(h.assets)
            dept = self.asset_dept[id(asset)]
            contact = rng.choice(h.contacts)
            wo.customer, wo.site, wo.contact = h.customer, asset.site, contact
            wo.team = self.teams[team]  # routed to the region's team at intake
            wo.asset = asset
            where = f"{asset.site.name}{dept}"
        if key == "repair":
            faults = D.FAULTS[asset.category]
            title, code, symptom, resolution = faults[fault if fault is not None else rng.randrange(len(faults))]
            downtime = rng.random() < (0.6 if asset.category in D.CRITICAL_CATEGORIES else 0.25)
            channel = rng.choices(["电话", "客户门户", "微信", "邮件", "CRM"], weights=[40, 30, 12, 5, 13])[0]
            if channel == "客户门户":
                creator, wo.contact = h.user, h.contacts[0]
            if channel == "CRM":
                refs.append(("crm", f"CRM-{self.seq('crm') + 60012000:08d}"))
            custom = {"symptom": symptom, "downtime": downtime, "channel": channel}
            wo.fault_code = code
            wo.priority = priority or (
                rng.choices(["urgent", "high", "normal"], [35, 50, 15])[0] if downtime
                else rng.choices(["high", "normal", "low"], [15, 70, 15])[0])
            wo.title = title
            wo.description = (f"{wo.contact.title}{wo.contact.name}报修: {where}{asset.name}"
                              f"({asset.manufacturer} {asset.model}, 序列号 {asset.serial_number}) {title}。"
                              + ("设备已停用。" if downtime else "设备尚可使用。"))
            remote = symptom == "其他" and rng.random() < 0.4
        elif key == "preventive":
            cycle = rng.choice(D.PM_CYCLES)
            pattern, resolution = D.PM_TITLES[rng.choices([0, 1, 2], [6, 2, 2])[0]]
            wo.title = pattern.format(cat=asset.category, cycle=cycle)
            planned = self.today - timedelta(days=d) + timedelta(days=rng.randint(0, 7))
            custom = {"cycle": cycle, "planned_date": planned.isoformat()}
            if asset.category in ("CT", "DR", "DSA"):
                custom["meter"] = rng.randint(20000, 900000)
            elif asset.category in ("呼吸机", "麻醉机"):
                custom["meter"] = rng.randint(500, 40000)
            creator = rng.choice([self.supervisors[team], self._dispatcher()])
            wo.priority = priority or rng.choices(["normal", "low"], [7, 3])[0]
            wo.description = f"合同{cycle}保养: {where}{asset.name}({asset.model}, 序列号 {asset.serial_number})。"
        elif key == "installation":
            item = rng.choices(["新机安装", "移机", "验收测试", "操作培训", "软件升级"], [3, 2, 2, 3, 2])[0]
            pattern, resolution = D.SERVICE_TITLES[item]
            wo.title = pattern.format(model=asset.model, cat=asset.category, dept=dept)
            if item == "新机安装":
                wo.asset = None  # the new machine is not on file until it is installed
            custom = {"service_item": item,
                      "appointment": (self.today - timedelta(days=d) + timedelta(days=rng.randint(1, 10))).isoformat(),
                      "power_cut": item in ("新机安装", "移机") and asset.category in ("MRI", "CT", "DSA", "DR")}
            creator = rng.choice([self.supervisors[team], self._dispatcher()])
            wo.priority = priority or rng.choices(["normal", "high"], [8, 2])[0]
            wo.description = f"{where}: {wo.title}。联系人 {wo.contact.name} {wo.contact.phone}。"
            remote = item == "软件升级" and rng.random() < 0.5
        elif key == "after_sales":
            issue = rng.choices(["投诉", "保修", "配件咨询", "退换", "升级"], [2, 4, 3, 1, 2])[0]
            pattern, resolution = D.AFTER_SALES_TITLES[issue]
            wo.title = pattern.format(cat=asset.category, model=asset.model, part=rng.choice(D.PARTS))
            custom = {"issue": issue, "warranty": rng.random() < 0.4,
                      "sales_order": f"SO-{rng.randint(20000000, 29999999)}"}
            if rng.random() < 0.3:
                creator, wo.contact = h.user, h.contacts[0]
            elif rng.random() < 0.25:
                refs.append(("crm", f"CRM-{self.seq('crm') + 60012000:08d}"))
            wo.priority = priority or ("high" if issue == "投诉" else rng.choices(["normal", "low"], [8, 2])[0])
            wo.description = f"{wo.contact.title}{wo.contact.name}: {wo.title}。设备 {asset.name}, 序列号 {asset.serial_number}。"
            remote = issue in ("配件咨询", "升级") and rng.random() < 0.7
        else:  # production
            item, material, tlo, thi = rng.choice(D.PRODUCTION_ITEMS)
            batch = f"P{self.seq('batch'):05d}"
            wo.title = f"{item} 批次{batch}"
            qty = rng.choice([200, 500, 1000, 2000, 5000])
            custom = {"mold_temp": rng.randint(tlo, thi), "shift": rng.choice(["早", "中", "晚"]), "quantity": qty,
                      "material": material}
            resolution = f"完成{qty}件, 首件检验及过程抽检合格, 已入库。"
            creator = self.supervisors["east"]
            wo.priority = priority or rng.choices(["normal", "high"], [7, 3])[0]
            wo.description = f"杭州车间生产任务: {item}, 材料 {material}, 计划 {qty} 件, 批次 {batch}。"
            remote = True
        wo.custom = custom
        if wo.priority is None or wo.priority == "":
            wo.priority = "normal"
        target = target or self._target(d, key)
        if key == "production":
            engineer = assignee or rng.choice(self.production_techs)
        else:
            engineer = assignee or self._pick_engineer(team, wo.asset or asset)
        ctx = {"key": key, "team": team, "h": h, "engineer": engineer, "remote": remote, "resolution": resolution,
               "creator": creator, "asset": asset}
        steps = [Step(0, TimelineEvent.Kind.CREATED, actor=creator, public=True)]
        self._steps(steps, ctx, target, wo)
        return Plan(index, d, tod, wo, steps, refs, creator, slack=rng.uniform(0.3, 0.95))

    # gaps in minutes
    def _assign_gap(self, priority: str, key: str) -> float:
        rng = self.rng
        if key in ("preventive", "installation", "production"):
            return rng.uniform(30, 1440)
        return {"urgent": rng.uniform(3, 20), "high": rng.uniform(10, 60), "normal": rng.uniform(20, 240),
                "low": rng.uniform(60, 1440)}[priority]

    def _steps(self, steps: list, c: dict, target: str, wo: WorkOrder) -> None:
        rng = self.rng
        key, h, eng = c["key"], c["h"], c["engineer"]
        sup = self.supervisors[c["team"]] if key != "production" else self.supervisors["east"]
        customer_user = h.user if h else None
        internal = key == "production"

        def tr(gap, action, actor, **inp):
            steps.append(Step(gap, TimelineEvent.Kind.TRANSITION, action, actor, inp))

        def comment(gap, actor, body, public):
            steps.append(Step(gap, TimelineEvent.Kind.COMMENT, actor=actor, body=body, public=public))

        fieldwork = key == "repair"  # the comments below are about fixing a fault
        if fieldwork and customer_user and steps[0].actor is customer_user and rng.random() < 0.3:
            comment(rng.uniform(5, 90), customer_user, rng.choice(D.CUSTOMER_URGE), True)
        if target == S.NEW:
            return
        if target == S.CANCELLED:
            pre = rng.choice([S.NEW, S.NEW, S.ASSIGNED, S.ACCEPTED])
            if pre != S.NEW:
                tr(self._assign_gap(wo.priority, key), "assign", self._dispatcher(), assignee=eng)
            if pre == S.ACCEPTED:
                tr(rng.uniform(2, 90), "accept", eng)
            tr(rng.uniform(30, 2880), "cancel", self._dispatcher(), reason=rng.choice(D.CANCEL_REASONS))
            return
        assigner = sup if (internal or rng.random() < 0.15) else self._dispatcher()
        tr(self._assign_gap(wo.priority, key), "assign", assigner, assignee=eng)
        if rng.random() < 0.25:
            comment(rng.uniform(1, 10), assigner, rng.choice(D.DISPATCH_NOTES), False)
        if not internal and rng.random() < 0.06 and len(self.engineers[c["team"]]) > 1:
            eng = self._pick_engineer(c["team"], c["asset"], exclude=eng)
            tr(rng.uniform(10, 240), "assign", self._dispatcher(), assignee=eng, note="原工程师另有急单, 改派")
        if target == S.ASSIGNED:
            return
        tr(rng.uniform(2, 90), "accept", eng)
        if target == S.ACCEPTED:
            return
        if target == S.WAITING_CUSTOMER and rng.random() < 0.4:
            tr(rng.uniform(10, 240), "wait", eng, reason="customer", note=rng.choice(D.CUSTOMER_WAIT_NOTES))
            return
        travel = not c["remote"] or target in (S.EN_ROUTE, S.ON_SITE)

        def go_on_site():
            if key in ("preventive", "installation"):
                gap = rng.uniform(60, 2880)
            else:
                gap = rng.uniform(5, 120)
            if rng.random() < 0.93:
                tr(gap, "depart", eng)
                if rng.random() < 0.35:
                    comment(rng.uniform(1, 5), eng, rng.choice(D.DEPART_NOTES).format(n=rng.choice([20, 30, 40, 60])),
                            True)
                if target == S.EN_ROUTE:
                    return False
                gap = rng.uniform(15, 150)
            site = wo.site
            lat, lon = self.jitter(float(site.latitude), float(site.longitude), 0.002)
            tr(gap, "arrive", eng, latitude=lat, longitude=lon)
            return True

        if travel:
            if not go_on_site() or target == S.ON_SITE:
                return
            tr(rng.uniform(3, 30), "start", eng)
        else:
            tr(rng.uniform(10, 240), "start", eng)
        if fieldwork and rng.random() < 0.3:
            comment(rng.uniform(5, 60), eng, rng.choice(D.ONSITE_NOTES).format(part=rng.choice(D.PARTS)), False)
        process = list(self.types[key].process_steps)
        if target == S.IN_PROGRESS:
            for name in process[: rng.randint(0, max(0, len(process) - 1))]:
                comment(rng.uniform(30, 120), eng, f"工序「{name}」完成", False)
            return
        if target in (S.WAITING_PARTS, S.WAITING_CUSTOMER):
            self._wait(steps, eng, "parts" if target == S.WAITING_PARTS else "customer", resume=False)
            return
        if rng.random() < 0.15:
            self._wait(steps, eng, "parts", resume=True)
        elif rng.random() < 0.07:
            self._wait(steps, eng, "customer", resume=True)
        for name in process:
            comment(rng.uniform(30, 120), eng, f"工序「{name}」完成", False)
        tr(rng.uniform(30, 480), "complete", eng, resolution=c["resolution"])
        if fieldwork and rng.random() < 0.3:
            comment(rng.uniform(1, 10), eng, rng.choice(D.COMPLETE_NOTES), True)
        if target in (S.CONFIRMED, S.INVOICED, S.CLOSED) and not internal and rng.random() < 0.03:
            who = customer_user if rng.random() < 0.6 else self._dispatcher()
            tr(rng.uniform(60, 4320), "reopen", who, reason=rng.choice(D.REOPEN_REASONS))
            tr(rng.uniform(2, 60), "accept", eng)
            if go_on_site():
                tr(rng.uniform(3, 30), "start", eng)
            tr(rng.uniform(30, 240), "complete", eng, resolution="复查: " + c["resolution"])
        if target == S.RESOLVED:
            return
        rating = rng.choices([5, 4, 3, 2, 1], [55, 30, 10, 4, 1])[0] if rng.random() < 0.7 else None
        if internal:
            tr(rng.uniform(30, 600), "confirm", sup, note="质检确认, 同意入库")
        elif customer_user and rng.random() < 0.6:
            tr(rng.uniform(30, 4320), "confirm", customer_user, **({"rating": rating} if rating else {}))
        else:
            tr(rng.uniform(30, 4320), "confirm", self._dispatcher(), note=rng.choice(D.CONFIRM_NOTES),
               **({"rating": rating} if rating else {}))
        if target == S.CONFIRMED:
            return
        n = self.seq("invoice")
        number = f"RK{n:08d}" if internal else f"263320000{n:011d}"
        tr(rng.uniform(1440, 14400), "invoice", rng.choice(self.finance), invoice_number=number)
        if target == S.INVOICED:
            return
        tr(rng.uniform(10, 2880), "close", sup if rng.random() < 0.3 else self._dispatcher())

    def _wait(self, steps: list, eng: User, reason: str, *, resume: bool) -> None:
        rng = self.rng
        part = rng.choice(D.PARTS)
        if reason == "parts":
            note = rng.choice(D.PARTS_NOTES).format(part=part, n=rng.randint(1, 5))
        else:
            note = rng.choice(D.CUSTOMER_WAIT_NOTES)
        steps.append(Step(rng.uniform(20, 240), TimelineEvent.Kind.TRANSITION, "wait", eng,
                          {"reason": reason, "note": note}))
        if reason == "parts" and rng.random() < 0.6:
            po = f"PO-{self.seq('erp') + 45000000:08d}"
            steps.append(Step(rng.uniform(5, 120), TimelineEvent.Kind.EXTERNAL_REF, actor=rng.choice(self.dispatchers),
                              ref=("erp", po)))
        if resume:
            gap = rng.uniform(1440, 7200) if reason == "parts" else rng.uniform(120, 2880)
            steps.append(Step(gap, TimelineEvent.Kind.TRANSITION, "resume", eng,
                              {"note": "备件已到货" if reason == "parts" else "科室已腾出设备"}))

    # -- conflicts with existing data (--force) --
    def check_conflicts(self, using: str) -> None:
        checks = [
            (User, "username", [u.username for u in self.users], _("usernames")),
            (Team, "code", [t.code for t in self.teams.values()], _("team codes")),
            (Team, "name", [t.name for t in self.teams.values()], _("team names")),
            (WorkOrderType, "key", [t.key for t in self.types.values()], _("work order type keys")),
            (WorkOrderType, "prefix", [t.prefix for t in self.types.values()], _("work order code prefixes")),
            (SkillTag, "name", [t.name for t in self.tags.values()], _("skill tags")),
            (Customer, "code", [c.code for c in self.customers], _("customer codes")),
            (Site, "code", [s.code for s in self.sites], _("site codes")),
            (Asset, "serial_number", [a.serial_number for a in self.assets], _("asset serial numbers")),
            (ServiceContract, "number", [c.number for c in self.contracts], _("contract numbers")),
        ]
        problems = []
        for model, column, values, label in checks:
            taken = sorted(model.objects.using(using).filter(**{f"{column}__in": values})
                           .values_list(column, flat=True))
            if taken:
                shown = ", ".join(taken[:8]) + (" …" if len(taken) > 8 else "")
                problems.append(f"{label}: {shown}")
        if problems:
            raise DemoRefused(_("The demo cannot be added next to this data; these already exist: %(list)s.")
                              % {"list": "; ".join(problems)})

    # -- save --
    def _times(self, plan: Plan) -> tuple[datetime, list[datetime]]:
        day = self.today - timedelta(days=plan.d)
        start = datetime.combine(day, dtime(0), tzinfo=self.tz)
        tod = float(plan.tod)
        if plan.d == 0:
            # Today: keep times well before now as they are, squeeze the rest of the day
            # (in order) into the time before now, so codes keep their planned sequence.
            elapsed = max(0.0, (self.now - start).total_seconds())
            a, b = 0.6 * elapsed, 0.9 * elapsed
            if tod > a:
                tod = a + (tod - a) / (86400 - a) * (b - a)
        created = start + timedelta(seconds=tod)
        window = (self.now - created).total_seconds() * plan.slack
        natural = sum(s.gap for s in plan.steps) * 60
        factor = min(1.0, max(0.0, window) / natural) if natural > 0 else 1.0
        times, cum, last = [], 0.0, created
        for s in plan.steps:
            cum += s.gap * 60 * factor
            at = created + timedelta(seconds=cum)
            if times and at <= last:
                at = last + timedelta(microseconds=1)
            times.append(at)
            last = at
        return created, times

    def save(self, using: str) -> dict:
        def bulk(model, objs):
            model.objects.using(using).bulk_create(objs, batch_size=BATCH)
            return len(objs)

        counts = {}
        counts["work_order_types"] = bulk(WorkOrderType, list(self.types.values()))
        bulk(CustomField, self.fields)
        counts["skill_tags"] = bulk(SkillTag, list(self.tags.values()))
        counts["teams"] = bulk(Team, list(self.teams.values()))
        counts["customers"] = bulk(Customer, self.customers)
        counts["sites"] = bulk(Site, self.sites)
        counts["contacts"] = bulk(Contact, self.contacts)
        counts["assets"] = bulk(Asset, self.assets)
        counts["contracts"] = bulk(ServiceContract, self.contracts)
        counts["users"] = bulk(User, self.users)
        bulk(EngineerSkill, self.skills)
        for code, _name, _region, backup, _n, _home in D.TEAMS:
            self.teams[code].supervisor = self.supervisors[code]
            self.teams[code].backup_team = self.teams[backup]
        Team.objects.using(using).bulk_update(list(self.teams.values()), ["supervisor", "backup_team"])
        counts.update(self._save_work_orders(using))
        return counts

    def _save_work_orders(self, using: str) -> dict:
        timed = []
        for plan in self.plans:
            created, times = self._times(plan)
            timed.append((created, plan.index, plan, times))
        timed.sort(key=lambda x: (x[0], x[1]))
        # Codes: per prefix and business day, in creation order, after any number already used.
        prefixes = [t.prefix for t in self.types.values()]
        used = {(c.prefix, c.day): c.value for c in CodeCounter.objects.using(using).filter(prefix__in=prefixes)}
        seqs: dict[tuple, int] = {}
        states, refs, events = [], [], []
        for created, _i, plan, times in timed:
            wo = plan.wo
            day = timezone.localdate(created, timezone=self.tz)
            k = (wo.wo_type.prefix, day)
            seqs[k] = seqs.get(k, used.get(k, 0)) + 1
            wo.code = f"{k[0]}{day:%Y%m%d}{seqs[k]:05d}"
            wo.created_at = wo.updated_at = created
            wo.created_by = plan.created_by
            for name in ("wo_type", "customer", "site", "asset", "contact", "team"):
                # Planned before their rows existed: copy the now known ids onto the work order.
                obj = getattr(wo, name)
                if obj is not None:
                    setattr(wo, name, obj)
            state = _WorkOrderState(wo)
            for (system, ext_id) in plan.created_refs:
                refs.append(ExternalRef(work_order=wo, system=system, external_id=ext_id, created_at=created))
            for n, (step, at) in enumerate(zip(plan.steps, times, strict=True)):
                # (kind, action, from_state, to_state, data, public)
                if step.kind == TimelineEvent.Kind.CREATED:
                    ev = (step.kind, "", "", S.NEW,
                          {"title": wo.title, "priority": wo.priority, "type": wo.wo_type.key,
                           "external_refs": [{"system": s, "id": i} for s, i in plan.created_refs]}, True)
                elif step.kind == TimelineEvent.Kind.TRANSITION:
                    ev = state.apply(step, at)
                elif step.kind == TimelineEvent.Kind.COMMENT:
                    ev = (step.kind, "", "", "", {"body": step.body}, step.public)
                else:
                    refs.append(ExternalRef(work_order=wo, system=step.ref[0], external_id=step.ref[1], created_at=at))
                    ev = (step.kind, "", "", "", {"system": step.ref[0], "id": step.ref[1]}, False)
                wo.updated_at = at
                events.append((at, plan.index, n, wo, step.actor, ev))
            wo.search_document = search_document_for(
                wo, refs=[i for _s, i in plan.created_refs] + [s.ref[1] for s in plan.steps if s.ref])
            states.append(wo)
        WorkOrder.objects.using(using).bulk_create(states, batch_size=BATCH)
        ExternalRef.objects.using(using).bulk_create(refs, batch_size=BATCH)
        events.sort(key=lambda e: e[:3])
        _insert_events(events, using)
        counters = []
        for (prefix, day), value in sorted(seqs.items()):
            counters.append(CodeCounter(prefix=prefix, day=day, value=value))
        CodeCounter.objects.using(using).bulk_create(
            counters, update_conflicts=True, unique_fields=["prefix", "day"], update_fields=["value"])
        return {"work_orders": len(states), "timeline_events": len(events), "external_refs": len(refs),
                "code_counters": len(counters)}


def _insert_events(events: list, using: str) -> None:
    """INSERT the timeline in one executemany per batch (ids are not needed back).

    bulk_create would build ~30,000 model instances and compile every value into
    SQL; this adapts only the columns that need it (`at`, `data`) with the fields'
    own get_db_prep_save, and gives any other column its default.
    """
    conn = connections[using]
    fields = [f for f in TimelineEvent._meta.concrete_fields if not f.primary_key]
    names = [f.name for f in fields]
    at_f, data_f = TimelineEvent._meta.get_field("at"), TimelineEvent._meta.get_field("data")
    known = ["work_order", "at", "actor", "kind", "action", "from_state", "to_state", "data", "public"]
    defaults = {f.name: f.get_db_prep_save(f.get_default(), conn) for f in fields if f.name not in known}
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        conn.ops.quote_name(TimelineEvent._meta.db_table), ", ".join(conn.ops.quote_name(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)))

    def row(e):
        at, _i, _n, wo, actor, (kind, action, from_state, to_state, data, public) = e
        values = {"work_order": wo.pk, "at": at_f.get_db_prep_save(at, conn), "actor": actor.pk if actor else None,
                  "kind": kind, "action": action, "from_state": from_state, "to_state": to_state,
                  "data": data_f.get_db_prep_save(data, conn), "public": public, **defaults}
        return [values[name] for name in names]

    with conn.cursor() as cur:
        for i in range(0, len(events), BATCH):
            cur.executemany(sql, [row(e) for e in events[i : i + BATCH]])


class _WorkOrderState:
    """Replays transitions on an unsaved WorkOrder with the rules of
    workorders.services._apply_transition, returning each timeline event as
    (kind, action, from_state, to_state, data, public)."""

    def __init__(self, wo: WorkOrder):
        self.wo = wo

    def apply(self, step: Step, at: datetime) -> tuple:
        wo = self.wo
        t = TRANSITIONS[step.action]
        clean = step.inp
        if wo.status not in t.sources:
            raise AssertionError(f"demo plan bug: cannot {t.action} from {wo.status} ({wo.title})")
        from_state = wo.status
        if t.action == "wait":
            to_state = WAIT_REASONS[clean["reason"]]
        elif t.action == "resume":
            to_state = wo.resume_to or S.IN_PROGRESS
        elif t.action == "reopen":
            to_state = S.ASSIGNED if wo.assignee_id else S.NEW
        else:
            to_state = t.target
        data: dict = {}
        wo.status = to_state
        if t.milestone and getattr(wo, t.milestone) is None:
            setattr(wo, t.milestone, at)
        if t.action == "assign":
            assignee = clean["assignee"]
            previous = wo.assignee if wo.assignee_id else None
            wo.assignee = assignee
            wo.team = clean.get("team") or assignee.team or wo.team
            data["assignee"] = assignee.username
            data["assignee_name"] = str(assignee)
            if previous is not None and previous is not assignee:
                data["previous_assignee"] = previous.username
            if wo.team is not None:
                data["team"] = wo.team.code
        elif t.action == "wait":
            wo.resume_to = from_state
        elif t.action == "resume":
            wo.resume_to = ""
        elif t.action == "complete":
            wo.resolution = clean["resolution"]
        elif t.action == "invoice":
            wo.invoice_number = clean["invoice_number"]
            data["invoice_number"] = clean["invoice_number"]
        elif t.action == "reopen":
            for col in ("resolved_at", "confirmed_at", "invoiced_at", "closed_at", "cancelled_at"):
                setattr(wo, col, None)
        if clean.get("rating") is not None:
            wo.rating = clean["rating"]
            data["rating"] = clean["rating"]
        for k in ("reason", "note", "resolution", "latitude", "longitude"):
            if clean.get(k) not in (None, ""):
                data[k] = clean[k]
        wo.version += 1
        return (TimelineEvent.Kind.TRANSITION, t.action, from_state, to_state, data, True)
