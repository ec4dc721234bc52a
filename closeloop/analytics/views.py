"""The analytics pages: the manager's overview, the heat map with the TOP 5 (the Monday
morning page), and each chart's data as CSV / .xlsx. Thin: measures compute, drill links."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from closeloop.core.access import refuse
from closeloop.core.tabular import csv_response, safe, xlsx_response
from closeloop.workorders.lifecycle import STATE_LABELS
from closeloop.workorders.models import Priority, WorkOrderType

from . import drill, measures, refresh, selectors


def _who():
    from django.utils.translation import gettext_lazy

    return gettext_lazy("dispatchers, managers, administrators and engineers (their own team)")


def _parsed(request):
    if not selectors.may_view(request.user):
        refuse(_who())
    return selectors.scope_from(request.user, request.GET)


def _pct(x):
    return None if x is None else round(100 * x, 1)


def _hours(s):
    return None if s is None else round(s / 3600.0, 2)


def _minutes(s):
    return None if s is None else round(s / 60.0, 1)


def _change(cur, prev):
    if cur is None or prev is None:
        return None
    return round(cur - prev, 2)


def _channel_label(key):
    from django.utils.translation import gettext

    return {"staff": gettext("Staff"), "portal": gettext("Customer portal"),
            "anonymous": gettext("QR code / public form"), "integration": gettext("Integration")}.get(key, key)


def overview_data(user, parsed) -> dict:
    """Everything the overview page shows (and its exports read)."""
    scope, values = parsed.scope, parsed.values
    cur, prev = measures.summary(scope), measures.summary(scope.previous())

    def kpi(key, label, value, previous, unit, flag=None, better="up"):
        return {"key": key, "label": label, "value": value, "previous": previous, "unit": unit,
                "delta": _change(value, previous), "better": better,
                "url": drill.url(values, m="wo", flag=flag) if flag else None}

    kpis = [
        kpi("created", _("Work orders created"), cur["created"], prev["created"], "", "created", better=""),
        kpi("response", _("First response (average)"), _minutes(cur["response_avg_s"]),
            _minutes(prev["response_avg_s"]), _("min"), "responded", better="down"),
        kpi("response_attainment", _("Response in time"), _pct(cur["response_attainment"]),
            _pct(prev["response_attainment"]), "%", "response_met"),
        kpi("sla", _("SLA attainment"), _pct(cur["sla_attainment"]), _pct(prev["sla_attainment"]), "%", "created"),
        kpi("overdue", _("Overdue rate"), _pct(cur["overdue_rate"]), _pct(prev["overdue_rate"]), "%", "breached",
            better="down"),
        kpi("first_update", _("First update to the customer (average)"), _minutes(cur["first_update_avg_s"]),
            _minutes(prev["first_update_avg_s"]), _("min"), "created", better="down"),
        kpi("update15", _("First update within 15 minutes"), _pct(cur["update15_rate"]), _pct(prev["update15_rate"]),
            "%", "update15"),
        kpi("update30", _("First update within 30 minutes"), _pct(cur["update30_rate"]), _pct(prev["update30_rate"]),
            "%", "update30"),
        kpi("handover3", _("Handed over 3 or more times"), _pct(cur["handover3_share"]),
            _pct(prev["handover3_share"]), "%", "handover3", better="down"),
        kpi("handovers", _("Hand-overs per work order"), None if cur["handovers_avg"] is None
            else round(cur["handovers_avg"], 2), None if prev["handovers_avg"] is None
            else round(prev["handovers_avg"], 2), "", "handed_over", better="down"),
        kpi("reopen", _("Reopen rate"), _pct(cur["reopen_rate"]), _pct(prev["reopen_rate"]), "%", "reopened",
            better="down"),
        kpi("repeat", _("Repeat faults within 30 days"), _pct(cur["repeat_rate"]), _pct(prev["repeat_rate"]), "%",
            "repeat", better="down"),
        kpi("ftf", _("First-time fix rate"), _pct(cur["ftf_rate"]), _pct(prev["ftf_rate"]), "%", "ftf"),
        kpi("execution", _("Execution time without waiting (average)"), _hours(cur["execution_avg_s"]),
            _hours(prev["execution_avg_s"]), _("h"), "resolved", better="down"),
        kpi("travel", _("Travel time (average)"), _minutes(cur["travel_avg_s"]), _minutes(prev["travel_avg_s"]),
            _("min"), "resolved", better="down"),
        kpi("satisfaction", _("Satisfied customers (rated 4–5)"), _pct(cur["satisfaction"]),
            _pct(prev["satisfaction"]), "%", "rated"),
        kpi("rating", _("Average rating"), None if cur["rating_avg"] is None else round(cur["rating_avg"], 2),
            None if prev["rating_avg"] is None else round(prev["rating_avg"], 2), "/5", "rated"),
        kpi("waiting_invoice", _("Waiting for an invoice"), cur["waiting_invoice"], prev["waiting_invoice"], "",
            "waiting_invoice", better="down"),
        kpi("invoice", _("Completion to invoice (average)"), _hours(cur["invoice_avg_s"]),
            _hours(prev["invoice_avg_s"]), _("h"), "invoiced", better="down"),
    ]
    by_day = measures.intake_by_day(scope)
    prev_by_day = measures.intake_by_day(scope.previous())
    teams = measures.sla_by(scope, "team")
    team_names = selectors.names("team", [r["key"] for r in teams])
    team_codes = selectors.codes("team", [r["key"] for r in teams])
    for r in teams:
        r["label"] = team_names.get(r["key"], _("No team"))
        r["attainment_pct"], r["overdue_pct"] = _pct(r["attainment"]), _pct(r["overdue_rate"])
        r["response_min"] = _minutes(r["response_avg_s"])
        r["url"] = drill.url({**values, "team": team_codes[r["key"]]} if r["key"] in team_codes else values,
                             m="wo", flag="breached")
    channels = measures.intake_by(scope, "channel")
    for r in channels:
        r["label"] = _channel_label(r["key"])
        r["url"] = drill.url(values, m="wo", channel=r["key"])
    types = measures.intake_by(scope, "type")
    type_names = selectors.names("type", [r["key"] for r in types])
    for r in types:
        r["label"] = type_names.get(r["key"], "—")
        r["url"] = None
    type_keys = selectors.codes("type", [r["key"] for r in types])
    for r in types:
        if r["key"] in type_keys:
            r["url"] = drill.url({**values, "type": type_keys[r["key"]]}, m="wo")
    customers = measures.intake_by(scope, "customer", limit=10)
    cust_names = selectors.names("customer", [r["key"] for r in customers])
    cust_codes = selectors.codes("customer", [r["key"] for r in customers])
    for r in customers:
        r["label"] = cust_names.get(r["key"], _("No customer"))
        r["url"] = (drill.url({**values, "customer": cust_codes[r["key"]]}, m="wo") if r["key"] in cust_codes
                    else None)
    sites = measures.intake_by(scope, "site", limit=10)
    site_names = selectors.names("site", [r["key"] for r in sites])
    for r in sites:
        r["label"] = site_names.get(r["key"], _("No site"))
        r["url"] = drill.url(values, m="wo", site=r["key"])
    stays = measures.closed_stays(scope)
    states = measures.time_in_state(scope, stays)
    for r in states:
        r["label"] = str(STATE_LABELS.get(r["state"], r["state"]))
    repeats = {}
    for dim in ("customer", "asset", "fault_code"):
        rows = measures.repeats_by(scope, dim, limit=10)
        labels = selectors.names(dim, [r["key"] for r in rows]) if dim != "fault_code" else {}
        for r in rows:
            r["label"] = labels.get(r["key"], r["key"] or "—") if dim != "fault_code" else (r["key"] or "—")
            r["rate_pct"] = _pct(r["rate"])
            r["url"] = drill.url(values, m="wo", flag="repeat", **{dim: r["key"]})
        repeats[dim] = rows
    people = measures.engineers(scope, stays=stays)
    people_names = selectors.names("person", [r["assignee_id"] for r in people])
    for r in people:
        r["label"] = people_names.get(r["assignee_id"], "—")
        r["utilisation_pct"] = _pct(r["utilisation"])
        r["url"] = drill.url(values, m="wo", assignee=r["assignee_id"])
    appr = measures.approvals(scope, cur)
    appr["auto_pct"], appr["bypass_pct"] = _pct(appr["auto_rate"]), _pct(appr["bypass_rate"])
    versions = measures.approvals_by_version(scope)
    for r in versions:
        r["avg_h"] = _hours(r["avg_s"])
        r["url"] = drill.url(values, m="ep", kind="approval", flow=r["flow"], version=r["version"])
    levels = measures.approvals_by_level(scope)
    for r in levels:
        r["avg_h"] = _hours(r["avg_s"])
        r["url"] = drill.url(values, m="ep", kind="step", flow=r["flow"], level=r["level"])
        r["waiting_url"] = drill.url(values, m="ep", kind="step", flow=r["flow"], level=r["level"], outcome="open")
    handoffs = measures.handoff_quality(scope)
    handoff_names = selectors.names("team", [r["team_id"] for r in handoffs])
    for r in handoffs:
        r["label"] = handoff_names.get(r["team_id"], _("No team"))
        r["score_r"] = None if r["score_avg"] is None else round(r["score_avg"], 2)
        r["url"] = drill.url(values, m="ep", kind="handoff", from_team=r["team_id"])
    ack = measures.ack_outcomes(scope)
    ack["ack_pct"], ack["escalated_pct"] = _pct(ack["ack_rate"]), _pct(ack["escalated_rate"])
    ack["avg_min"] = _minutes(ack["avg_s"])
    ack["url"] = drill.url(values, m="ep", kind="ack")
    ack["open_url"] = drill.url(values, m="ep", kind="ack", outcome="open")
    return {"kpis": kpis, "by_day": by_day, "prev_by_day": prev_by_day, "teams": teams, "channels": channels,
            "types": types, "customers": customers, "sites": sites, "states": states, "repeats": repeats,
            "people": people, "approvals": appr, "versions": versions, "levels": levels, "handoffs": handoffs,
            "ack": ack, "summary": cur, "previous": prev}


def heatmap_data(user, parsed, by: str) -> dict:
    scope, values = parsed.scope, parsed.values
    cells = measures.heatmap(scope, by)
    kind = "team" if by == "team" else "person"
    labels = selectors.names(kind, [c["key"] for c in cells])
    for c in cells:
        c["label"] = labels.get(c["key"], _("No team") if by == "team" else _("Nobody"))
        c["state_label"] = str(STATE_LABELS.get(c["state"], c["state"]))
        spec = {"cell_team": c["key"]} if by == "team" else {"person": c["key"]}
        c["url"] = drill.url(values, m="cell", state=c["state"], **spec)
        c["hours_r"], c["avg_r"] = round(c["hours"], 1), round(c["avg_hours"], 1)
    columns = [s for s in measures.WAIT_STATES if any(c["state"] == s for c in cells)]
    rows = sorted({(c["key"], c["label"]) for c in cells}, key=lambda kv: (str(kv[1]), kv[0] or 0))
    return {"cells": cells, "top": [c for c in cells if c["hours"] > 0][:5], "columns": columns,
            "column_labels": [str(STATE_LABELS[s]) for s in columns], "rows": rows}


def _context(request, parsed, **more):
    from urllib.parse import urlencode

    from closeloop.accounts.models import Team

    own = selectors.own_team_only(request.user)
    qs = urlencode(parsed.values)
    by = more.get("by")
    return {"qs": qs, "qs_by": qs + (f"&by={by}" if by else ""), "values": parsed.values, "problems": parsed.problems, "scope": parsed.scope,
            "previous": parsed.scope.previous(), "fresh": refresh.freshness(), "own_team": own,
            "teams": [] if own else Team.objects.order_by("name"), "types": WorkOrderType.objects.filter(active=True),
            "priorities": Priority.choices, "presets": selectors.PRESETS, "regions": selectors.regions(), **more}


@login_required
@require_GET
def overview(request):
    parsed = _parsed(request)
    d = overview_data(request.user, parsed)
    charts = {
        "intake": {"kind": "line", "x": [r["day"].isoformat() for r in d["by_day"]],
                   "series": [{"name": _("This period"), "data": [r["created"] for r in d["by_day"]]},
                              {"name": _("Previous period"), "data": [r["created"] for r in d["prev_by_day"]]}]},
        "sla": {"kind": "bar", "x": [r["label"] for r in d["teams"]], "urls": [r["url"] for r in d["teams"]],
                "series": [{"name": _("SLA attainment %"), "data": [r["attainment_pct"] for r in d["teams"]]},
                           {"name": _("Overdue rate %"), "data": [r["overdue_pct"] for r in d["teams"]]}]},
        "states": {"kind": "bar", "x": [r["label"] for r in d["states"]],
                   "series": [{"name": _("Average hours"), "data": [round(r["avg_hours"], 2) for r in d["states"]]}]},
        "channels": {"kind": "pie", "x": [r["label"] for r in d["channels"]], "urls": [r["url"] for r in d["channels"]],
                     "series": [{"name": _("Channel"), "data": [r["created"] for r in d["channels"]]}]},
    }
    return render(request, "analytics/overview.html", _context(request, parsed, d=d, charts=charts,
                                                               charts_list=list(charts)))


@login_required
@require_GET
def heatmap(request):
    parsed = _parsed(request)
    by = "person" if request.GET.get("by") == "person" else "team"
    d = heatmap_data(request.user, parsed, by)
    chart = {"kind": "heatmap", "x": d["column_labels"], "y": [str(label) for _k, label in d["rows"]],
             "data": [], "urls": []}
    row_index = {k: i for i, (k, _l) in enumerate(d["rows"])}
    col_index = {s: i for i, s in enumerate(d["columns"])}
    for c in d["cells"]:
        chart["data"].append([col_index[c["state"]], row_index[c["key"]], c["hours_r"], c["count"]])
        chart["urls"].append(c["url"])
    return render(request, "analytics/heatmap.html", _context(request, parsed, d=d, by=by, chart=chart))


EXPORTS = ("kpis", "intake", "teams", "channels", "types", "customers", "sites", "states", "repeats", "people",
           "heatmap", "approvals", "levels", "handoffs", "ack")


def export_rows(user, parsed, chart: str, by: str = "team"):
    """(header, rows) of one chart's data."""
    if chart == "heatmap":
        d = heatmap_data(user, parsed, by)
        return ([_("State"), _("Team") if by == "team" else _("Person"), _("Stays"), _("Still open"),
                 _("Waiting hours"), _("Average hours")],
                [[c["state_label"], c["label"], c["count"], c["open"], c["hours_r"], c["avg_r"]] for c in d["cells"]])
    d = overview_data(user, parsed)
    if chart == "kpis":
        return ([_("Figure"), _("This period"), _("Previous period"), _("Unit")],
                [[k["label"], k["value"], k["previous"], k["unit"]] for k in d["kpis"]])
    if chart == "intake":
        return ([_("Day"), pgettext("number of work orders", "Created"), _("Previous period")],
                [[a["day"].isoformat(), a["created"], b["created"]] for a, b in zip(d["by_day"], d["prev_by_day"], strict=False)])
    if chart == "teams":
        return ([_("Team"), pgettext("number of work orders", "Created"), _("SLA attainment %"), _("Overdue rate %"), _("First response (min)")],
                [[r["label"], r["created"], r["attainment_pct"], r["overdue_pct"], r["response_min"]]
                 for r in d["teams"]])
    if chart in ("channels", "types", "customers", "sites"):
        return [_("Name"), pgettext("number of work orders", "Created")], [[r["label"], r["created"]] for r in d[chart]]
    if chart == "states":
        return ([_("State"), _("Stays"), _("Total hours"), _("Average hours")],
                [[r["label"], r["count"], round(r["hours"], 2), round(r["avg_hours"], 2)] for r in d["states"]])
    if chart == "approvals":
        return ([_("Flow"), _("Version"), _("Requests"), _("Decided"), _("Average hours"), _("Approved automatically"),
                 _("Bypassed"), _("Rejected")],
                [[r["flow"], r["version"], r["requests"], r["decided"], r["avg_h"], r["auto"], r["bypassed"],
                  r["rejected"]] for r in d["versions"]])
    if chart == "levels":
        return ([_("Flow"), _("Level"), _("Approver steps"), _("Steps"), _("Average hours"), _("Still waiting")],
                [[r["flow"], r["level"], r["names"], r["steps"], r["avg_h"], r["waiting"]] for r in d["levels"]])
    if chart == "handoffs":
        return ([_("Team"), _("Handoffs"), _("Rated"), _("Average score"), _("Scored 1–2")],
                [[r["label"], r["handoffs"], r["rated"], r["score_r"], r["poor"]] for r in d["handoffs"]])
    if chart == "ack":
        a = d["ack"]
        return ([_("Chains"), _("Acknowledged at the first message"), _("Acknowledged after escalating"),
                 _("Not acknowledged"), _("Average minutes to acknowledge")],
                [[a["chains"], a["acked_first"], a["acked_escalated"], a["not_acked"], a["avg_min"]]])
    if chart == "repeats":
        return ([_("Grouped by"), _("Name"), _("Repeats"), pgettext("number of work orders", "Created"), _("Rate %")],
                [[dim, r["label"], r["repeats"], r["created"], r["rate_pct"]]
                 for dim, rows in d["repeats"].items() for r in rows])
    return ([_("Engineer"), _("Work orders"), _("Work hours"), _("Shift hours"), _("Utilisation %")],
            [[r["label"], r["work_orders"], round(r["work_hours"], 2), round(r["shift_hours"], 2),
              r["utilisation_pct"]] for r in d["people"]])


@login_required
@require_GET
def export(request, chart: str, fmt: str):
    parsed = _parsed(request)
    if chart not in EXPORTS or fmt not in ("csv", "xlsx"):
        raise Http404
    header, rows = export_rows(request.user, parsed, chart, "person" if request.GET.get("by") == "person" else "team")
    rows = [[safe(v) if isinstance(v, str) else ("" if v is None else v) for v in r] for r in rows]
    name = f"analytics-{chart}-{parsed.values['from']}-{parsed.values['to']}"
    if fmt == "csv":
        return csv_response(name, header, rows)
    return xlsx_response(name, header, rows)


# ---- the customer's own figures (portal) ------------------------------------------------------------

def own_figures_data(period) -> dict:
    """What a customer's "Service figures" page shows: their organisation's figures for the
    period and the one before (the same measures as the overview, filtered to the customer)."""
    from closeloop.customers.models import Customer

    scope, prev = period.scope, period.previous
    cur_s, prev_s = measures.summary(scope), measures.summary(prev)
    cur_r, prev_r = measures.resolution(scope), measures.resolution(prev)
    code = Customer.objects.filter(pk=scope.customer_id).values_list("code", flat=True).first()
    values = {"from": scope.start.isoformat(), "to": scope.end.isoformat(), "customer": code}

    def kpi(key, label, value, previous, unit, flag=None, better="up", note=""):
        return {"key": key, "label": label, "value": value, "previous": previous, "unit": unit, "note": note,
                "delta": _change(value, previous), "better": better,
                "url": drill.url(values, m="wo", flag=flag) if flag else None}

    def rnd(x, n=2):
        return None if x is None else round(x, n)

    kpis = [
        kpi("created", _("Work orders"), cur_s["created"], prev_s["created"], "", "created", better=""),
        kpi("response", _("First response (average)"), _minutes(cur_s["response_avg_s"]),
            _minutes(prev_s["response_avg_s"]), _("min"), "responded", better="down",
            note=_("in business hours, as your service agreement defines a response")),
        kpi("response_attainment", _("Response in time"), _pct(cur_s["response_attainment"]),
            _pct(prev_s["response_attainment"]), "%", "response_met"),
        kpi("resolution", _("Resolution time (average)"), _hours(cur_r["resolution_avg_s"]),
            _hours(prev_r["resolution_avg_s"]), _("h"), "done", better="down",
            note=_("from the report to the completed repair")),
        kpi("resolution_attainment", _("Resolved in time"), _pct(cur_r["resolution_attainment"]),
            _pct(prev_r["resolution_attainment"]), "%", "resolution_decided"),
        kpi("sla", _("SLA attainment"), _pct(cur_s["sla_attainment"]), _pct(prev_s["sla_attainment"]), "%",
            "created", note=_("promised times met, of all decided")),
        kpi("repeat", _("Repeat faults within 30 days"), cur_s["repeats"], prev_s["repeats"], "", "repeat",
            better="down"),
        kpi("satisfaction", _("Satisfied (rated 4–5)"), _pct(cur_s["satisfaction"]), _pct(prev_s["satisfaction"]),
            "%", "rated"),
        kpi("rating", _("Average rating"), rnd(cur_s["rating_avg"]), rnd(prev_s["rating_avg"]), "/5", "rated"),
    ]
    by_day, prev_by_day = measures.intake_by_day(scope), measures.intake_by_day(prev)
    repeats = measures.repeats_by(scope, "asset", limit=10)
    labels = selectors.names("asset", [r["key"] for r in repeats])
    for r in repeats:
        r["label"] = labels.get(r["key"]) or _("No asset")
        r["rate_pct"] = _pct(r["rate"])
        r["url"] = drill.url(values, m="wo", flag="repeat", asset=r["key"])
    return {"kpis": kpis, "by_day": by_day, "prev_by_day": prev_by_day, "repeats": repeats, "summary": cur_s,
            "resolution": cur_r}


@login_required
@require_GET
def own_figures(request):
    """/portal/figures/: a customer's own organisation's service figures (nobody else's: the
    organisation is the user's, never a parameter). Staff get a 404, like the portal's other pages."""
    if not selectors.may_view_own_figures(request.user):
        raise Http404
    period = selectors.own_figures_scope(request.user, request.GET)
    d = own_figures_data(period)
    scope = period.scope
    monthly = scope.days > 62  # a quarter or a year: per month, not per day
    cur, prev = _per(d["by_day"], monthly), _per(d["prev_by_day"], monthly)
    charts = {
        "volume": {"kind": "line" if not monthly else "bar", "x": [k for k, _n in cur],
                   "series": [{"name": _("This period"), "data": [n for _k, n in cur]},
                              {"name": _("Previous period"), "data": [n for _k, n in prev]}]},
        "repeats": {"kind": "bar", "x": [str(r["label"]) for r in d["repeats"]], "urls": [r["url"] for r in d["repeats"]],
                    "series": [{"name": _("Repeats"), "data": [r["repeats"] for r in d["repeats"]]}]},
    }
    periods = [{"key": "month", "label": _("This month")}, {"key": "last_month", "label": _("Last month")},
               {"key": "quarter", "label": _("This quarter")}, {"key": "year", "label": _("This year")}]
    return render(request, "analytics/own_figures.html", {"portal_container": "container-lg",
        "d": d, "charts": charts, "period": period, "periods": periods, "scope": scope,
        "previous": period.previous, "problems": period.problems, "fresh": refresh.freshness(),
        "monthly": monthly, "png_period": f"{scope.start.isoformat()}_{scope.end.isoformat()}"})


def _per(by_day: list[dict], monthly: bool) -> list[tuple[str, int]]:
    """(label, work orders) per day, or per calendar month of the days."""
    if not monthly:
        return [(r["day"].isoformat(), r["created"]) for r in by_day]
    out: dict[str, int] = {}
    for r in by_day:
        key = r["day"].strftime("%Y-%m")
        out[key] = out.get(key, 0) + r["created"]
    return list(out.items())
