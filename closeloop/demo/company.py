"""The demo company in memory (`Builder`): work order types, skills, hospitals with their
sites, contacts, contracts and assets, the staff and the demo logins; and, for --force,
the check that none of it collides with rows already there. Work orders are planned by
stories.py and written by saving.py (both mixed into `Builder`)."""

import math
import random
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.accounts.models import EngineerSkill, Role, SkillTag, Team, User
from closeloop.core.errors import DomainError
from closeloop.customers.models import Asset, Contact, Customer, ServiceContract, Site
from closeloop.workorders.models import CustomField, WorkOrderType

from . import data as D
from .saving import Saving
from .stories import Stories
from .world import Hospital, Plan

PASSWORD = "demo"
FULL_HOSPITALS = sum(p[3] for p in D.PROVINCES)  # 186
MIN_HOSPITALS = 6
#: The hospital whose contact is the `customer` login, and the `engineer` login's home.
HOME_PROVINCE = "浙江"
HOME_CITY = "杭州"


class DemoRefused(DomainError):
    def __init__(self, message: str):
        super().__init__(message, 409, "demo_refused")


class Builder(Stories, Saving):
    """The whole demo company, planned in memory from one seeded random generator."""

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
