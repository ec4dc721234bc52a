"""Work order stories of the demo (mixed into company.Builder): each work order planned as
a list of steps (create, transitions, comments, external refs) from the seeded random
generator, before any clock is read; the scripted stories the demo logins land on."""

from datetime import timedelta

from closeloop.accounts.models import User
from closeloop.customers.models import Asset
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent, WorkOrder

from . import data as D
from .world import Hospital, Plan, Step

DAYS = 90
FULL_WORK_ORDERS = 3000


class Stories:
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
