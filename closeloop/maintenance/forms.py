"""The plan form only parses what the browser sends; services.do_create_plan / do_update_plan
check everything and name the field (errors land on the field of that name)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from closeloop.workorders.models import Priority, WorkOrderType

from .models import AgeBasis, Anchor, OnOpen, Scope, Trigger, Unit

_num = {"inputmode": "numeric"}


def _blank(choices):
    return [("", "—")] + list(choices)


class PlanForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    scope = forms.ChoiceField(label=_("Applies to"), choices=Scope.choices)
    asset = forms.CharField(label=_("Asset (serial number)"), required=False, max_length=100)
    model = forms.CharField(label=_("Model"), required=False, max_length=100)
    batch = forms.CharField(label=_("Batch"), required=False, max_length=100)
    trigger = forms.ChoiceField(label=_("Trigger"), choices=Trigger.choices)
    every = forms.CharField(
        label=_("Every"), required=False, max_length=10, widget=forms.TextInput(attrs=_num)
    )
    unit = forms.ChoiceField(label=_("Unit"), required=False, choices=_blank(Unit.choices))
    rrule = forms.CharField(
        label=_("Or a recurrence rule (RFC 5545)"),
        required=False,
        max_length=300,
        help_text=_("e.g. FREQ=MONTHLY;BYMONTHDAY=1 or FREQ=WEEKLY;BYDAY=MO"),
    )
    anchor = forms.ChoiceField(label=_("Count from"), choices=Anchor.choices)
    start_date = forms.CharField(
        label=_("Starts on"), required=False, max_length=10, widget=forms.DateInput(attrs={"type": "date"})
    )
    calendar = forms.ChoiceField(
        label=_("Working days of"),
        required=False,
        help_text=_("A due date on a non-working day moves to the next working day."),
    )
    lead_days = forms.CharField(
        label=_("Lead time (days)"),
        required=False,
        max_length=4,
        widget=forms.TextInput(attrs=_num),
        help_text=_("The work order is generated this many days before it is due."),
    )
    meter_kind = forms.CharField(
        label=_("Meter"), required=False, max_length=60, help_text=_("e.g. running_hours or door_cycles")
    )
    meter_every = forms.CharField(label=_("Every (meter units)"), required=False, max_length=20)
    alarm_kind = forms.CharField(label=_("Alarm"), required=False, max_length=60)
    alarm_count = forms.CharField(
        label=_("Number of alarms"), required=False, max_length=6, widget=forms.TextInput(attrs=_num)
    )
    window_days = forms.CharField(
        label=_("Within (days)"), required=False, max_length=4, widget=forms.TextInput(attrs=_num)
    )
    condition = forms.ChoiceField(label=_("Or a telemetry condition"), required=False)
    age_years = forms.CharField(
        label=_("Age (years)"), required=False, max_length=3, widget=forms.TextInput(attrs=_num)
    )
    age_basis = forms.ChoiceField(label=_("Age of"), choices=AgeBasis.choices)
    type = forms.ChoiceField(label=_("Work order type"))
    title = forms.CharField(
        label=_("Title"),
        required=False,
        max_length=200,
        help_text=_("{plan}, {asset}, {serial}, {model}, {batch}, {due} are filled in."),
    )
    checklist = forms.CharField(
        label=_("Checklist (one step a line)"),
        required=False,
        max_length=12000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    parts = forms.CharField(
        label=_("Parts (part id and quantity, one a line)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "font-monospace"}),
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    team = forms.CharField(label=_("Team (code)"), required=False, max_length=40)
    assignee = forms.CharField(label=_("Engineer (username)"), required=False, max_length=150)
    on_open = forms.ChoiceField(label=_("When the last one is still open"), choices=OnOpen.choices)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, calendars=(), conditions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [(t.key, t.name) for t in WorkOrderType.objects.filter(active=True)]
        self.fields["calendar"].choices = _blank((c.key, c.name) for c in calendars)
        self.fields["condition"].choices = _blank((str(c.pk), str(c)) for c in conditions)
        for f in self.fields.values():
            if isinstance(f.widget, forms.CheckboxInput):
                f.widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(f.widget, forms.Select):
                f.widget.attrs.setdefault("class", "form-select")
            else:
                f.widget.attrs["class"] = ("form-control " + f.widget.attrs.get("class", "")).strip()

    @staticmethod
    def initial_for(snapshot: dict) -> dict:
        out = {k: ("" if v is None else v) for k, v in snapshot.items()}
        out["checklist"] = "\n".join(snapshot["checklist"])
        out["parts"] = "\n".join(f"{p['part_id']} {p['quantity']}" for p in snapshot["parts"])
        out["condition"] = str(snapshot["condition"] or "")
        return out

    def service_data(self) -> dict:
        d = dict(self.cleaned_data)
        d.pop("version", None)
        if not d.get("condition"):
            d["condition"] = None
        return d
