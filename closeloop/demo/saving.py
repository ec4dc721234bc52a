"""Writing the planned demo company (mixed into company.Builder): timestamps last, the
transitions replayed with the rules of `workorders.services.apply_transition`, and the
rows inserted in bulk inside the loader's transaction."""

from datetime import datetime, timedelta
from datetime import time as dtime

from django.db import connections
from django.utils import timezone

from closeloop.accounts.models import EngineerSkill, SkillTag, Team, User
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
from .world import Plan, Step

BATCH = 2000


class Saving:
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
    workorders.services.apply_transition, returning each timeline event as
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
