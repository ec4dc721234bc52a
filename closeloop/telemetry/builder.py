"""The condition builder: metric, window, operator, threshold → one CEL comparison. Values are
checked against fixed menus and numbers, never spliced in as text."""

from __future__ import annotations

import math

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from closeloop.core.errors import FieldProblem, ValidationFailed

from . import variables

METRICS = [  # (value, label, needs a window)
    ("alarms.count", gettext_lazy("number of alarms"), True),
    ("reading.last", gettext_lazy("latest reading"), False),
    ("reading.max", gettext_lazy("highest reading"), True),
    ("reading.min", gettext_lazy("lowest reading"), True),
    ("reading.avg", gettext_lazy("average reading"), True),
    ("reading.delta", gettext_lazy("increase of a counter"), True),
    ("reading.rate_per_hour", gettext_lazy("change per hour"), True),
]
OPERATORS = [">", ">=", "<", "<=", "==", "!="]
UNITS = [("d", gettext_lazy("days")), ("h", gettext_lazy("hours"))]
JOINERS = {"": "", "and": "&&", "or": "||"}


def build(data: dict) -> str:
    """CEL from builder fields: metric, kind, window, unit, op, threshold. ValidationFailed
    names the builder field at fault."""
    problems = []
    metric = data.get("metric") or ""
    metrics = {m[0]: m for m in METRICS}
    if metric not in metrics:
        problems.append(FieldProblem("metric", _("Choose what to measure."), "choice"))
    kind = (data.get("kind") or "").strip()
    if not variables.KIND_RE.match(kind):
        problems.append(FieldProblem("kind", _("The alarm or meter kind, e.g. door_delay or temperature."),
                                     "invalid"))
    op = data.get("op") or ""
    if op not in OPERATORS:
        problems.append(FieldProblem("op", _("Choose a comparison."), "choice"))
    try:
        threshold = float(str(data.get("threshold", "")).strip())
        if not math.isfinite(threshold):
            raise ValueError
    except ValueError:
        problems.append(FieldProblem("threshold", _("A number."), "invalid"))
        threshold = 0.0
    window = None
    if metric in metrics and metrics[metric][2]:
        unit = data.get("unit") or "d"
        raw = str(data.get("window", "")).strip()
        if not raw.isdigit() or unit not in dict(UNITS) or variables.parse_stat(
                "reading", f"max_{raw}{unit}") is None:
            problems.append(FieldProblem("window", _("A whole number of days or hours (at most 400 days)."),
                                         "invalid"))
        else:
            window = f"{int(raw)}{unit}"
    if problems:
        raise ValidationFailed(problems)
    source, stat = metric.split(".")
    name = stat if window is None else f"{stat}_{window}"
    if source == "alarms":
        value = str(int(threshold)) if threshold == int(threshold) else repr(threshold)
        return f"alarms.{kind}.{name} {op} {value}"
    return f"reading.{kind}.{name} {op} {threshold!r}"


def combine(existing: str, part: str, joiner: str) -> str:
    """The builder's comparison alone, or joined to what the expression already says."""
    existing = (existing or "").strip()
    j = JOINERS.get(joiner or "", "")
    if not existing or not j:
        return part
    return f"({existing}) {j} {part}" if "||" in existing or "&&" in existing else f"{existing} {j} {part}"
