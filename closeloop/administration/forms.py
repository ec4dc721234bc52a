"""Forms for rendering and for carrying the services' field errors back beside each input.

Validation is the services' (one set of rules for the API and the pages): these forms only
collect text; `apply_problems` puts each `FieldProblem` under its field."""

import zoneinfo

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from closeloop.core.errors import DomainError


def _styled(form: forms.Form) -> forms.Form:
    for f in form.fields.values():
        css = "form-select" if isinstance(f.widget, forms.Select) else "form-control"
        f.widget.attrs.setdefault("class", css)
    return form


def apply_problems(form: forms.Form, error: DomainError) -> None:
    if not error.problems:
        form.add_error(None, str(error))
    for p in error.problems:
        form.add_error(p.field if p.field in form.fields else None, str(p.message))
    for name in form.errors:
        if name in form.fields:
            w = form.fields[name].widget
            w.attrs["class"] = (w.attrs.get("class", "") + " is-invalid").strip()
            w.attrs["aria-invalid"] = "true"


def _zones():
    common = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Europe/London",
              "UTC"]
    rest = sorted(z for z in zoneinfo.available_timezones() if z not in common and "/" in z)
    return [(z, z) for z in common + rest]


class CompanyForm(forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=200, required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False, choices=settings.LANGUAGES)
    site_url = forms.CharField(label=_("Public site URL"), max_length=300, required=False,
                               help_text=_("The address customers and engineers open, used in links in messages "
                                           "and on QR labels, e.g. https://service.example.com"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = _zones()
        _styled(self)


class FirstRunForm(CompanyForm):
    username = forms.CharField(label=_("Administrator username"), max_length=150, required=False)
    display_name = forms.CharField(label=_("Your name"), max_length=100, required=False)
    password = forms.CharField(label=_("Password"), required=False, widget=forms.PasswordInput(render_value=False))
    password2 = forms.CharField(label=_("Password again"), required=False, widget=forms.PasswordInput)

    field_order = ["name", "time_zone", "language", "site_url", "username", "display_name", "password", "password2"]


class CustomerForm(forms.Form):
    code = forms.CharField(label=pgettext_lazy("reference data", "Code"), max_length=40, required=False,
                           help_text=_("Letters, digits, - and _; used in links and imports."))
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    tier = forms.ChoiceField(label=_("Tier"), required=False)
    province = forms.CharField(label=_("Province"), max_length=50, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        from closeloop.customers.models import Tier

        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = Tier.choices
        _styled(self)


def _picker(field: forms.Field, kind: str, *, with_customer: bool = False) -> None:
    """Turn a plain code/serial/username input into a search-as-you-type picker (static/src/picker.js)."""
    from django.urls import reverse

    field.widget.attrs.update({"data-picker-url": reverse("administration:pick", args=[kind]),
                               "data-picker-empty": str(_("No match")), "autocomplete": "off"})
    if with_customer:
        field.widget.attrs["data-picker-with"] = "customer:customer"


class SiteForm(forms.Form):
    customer = forms.CharField(label=_("Customer"), max_length=40, required=False,
                               help_text=_("Type part of the name, or the customer's code."))
    code = forms.CharField(label=pgettext_lazy("reference data", "Code"), max_length=40, required=False)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    province = forms.CharField(label=_("Province"), max_length=50, required=False)
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    latitude = forms.CharField(label=_("Latitude"), max_length=20, required=False,
                               help_text=_("Decimal degrees, -90 to 90 (e.g. 31.2304). Copy it from any map app."))
    longitude = forms.CharField(label=_("Longitude"), max_length=20, required=False,
                                help_text=_("Decimal degrees, -180 to 180 (e.g. 121.4737)."))
    grade = forms.CharField(label=_("Grade"), max_length=40, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _picker(self.fields["customer"], "customers")
        for f in ("latitude", "longitude"):
            self.fields[f].widget.attrs.update({"inputmode": "decimal"})
        _styled(self)


class ContactForm(forms.Form):
    customer = forms.CharField(label=_("Customer"), max_length=40, required=False)
    site = forms.CharField(label=_("Site"), max_length=40, required=False)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    title = forms.CharField(label=_("Job title"), max_length=100, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _picker(self.fields["customer"], "customers")
        _picker(self.fields["site"], "sites", with_customer=True)
        _styled(self)


class AssetForm(forms.Form):
    customer = forms.CharField(label=_("Customer"), max_length=40, required=False)
    site = forms.CharField(label=_("Site"), max_length=40, required=False)
    serial_number = forms.CharField(label=_("Serial number"), max_length=100, required=False)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    category = forms.CharField(label=_("Equipment type"), max_length=100, required=False)
    manufacturer = forms.CharField(label=_("Manufacturer"), max_length=100, required=False)
    model = forms.CharField(label=_("Model"), max_length=100, required=False)
    batch = forms.CharField(label=_("Batch"), max_length=100, required=False)
    install_date = forms.CharField(label=_("Install date"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _picker(self.fields["customer"], "customers")
        _picker(self.fields["site"], "sites", with_customer=True)
        _styled(self)


class ContractForm(forms.Form):
    customer = forms.CharField(label=_("Customer"), max_length=40, required=False,
                               help_text=_("Type part of the name, or the customer's code."))
    number = forms.CharField(label=_("Contract number"), max_length=60, required=False)
    tier = forms.ChoiceField(label=_("Tier"), required=False,
                             help_text=_("Empty: the customer's tier."))
    starts_on = forms.CharField(label=_("Starts on"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.CharField(label=_("Ends on"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        from closeloop.customers.models import Tier

        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", "—"), *Tier.choices]
        _picker(self.fields["customer"], "customers")
        _styled(self)


class UserForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150, required=False)
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False)
    role = forms.ChoiceField(label=_("Role"), required=False)
    team = forms.CharField(label=_("Team"), max_length=40, required=False)
    customer = forms.CharField(label=_("Customer (for customer contacts)"), max_length=40, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False,
                            help_text=_("Also the DingTalk address of messages."))
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    skills = forms.CharField(label=_("Skills"), required=False,
                             help_text=_("Skill tag and level 1-5, comma-separated: 呼吸机:4, 监护仪:2"))
    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, required=False)
    password = forms.CharField(label=_("New password"), required=False, widget=forms.PasswordInput,
                               help_text=_("Leave empty to keep the current one."))
    is_active = forms.BooleanField(label=_("Active (may log in)"), required=False, initial=True)

    def __init__(self, *args, editing: bool = False, **kwargs):
        from closeloop.accounts.models import Role

        super().__init__(*args, **kwargs)
        self.fields["role"].choices = Role.choices
        self.fields["language"].choices = [("", _("Not set (the browser's language)")), *settings.LANGUAGES]
        _picker(self.fields["team"], "teams")
        _picker(self.fields["customer"], "customers")
        if editing:
            self.fields["username"].disabled = True
        else:
            self.fields["password"].label = _("Password")
            self.fields["password"].help_text = _("Leave empty: the user cannot log in with a password until one is set.")
        _styled(self)
        self.fields["is_active"].widget.attrs["class"] = "form-check-input"


class TeamForm(forms.Form):
    code = forms.CharField(label=pgettext_lazy("reference data", "Code"), max_length=40, required=False)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    parent = forms.CharField(label=_("Parent department"), max_length=40, required=False)
    supervisor = forms.CharField(label=_("Supervisor (username)"), max_length=150, required=False)
    backup_team = forms.CharField(label=_("Backup team"), max_length=40, required=False)
    region = forms.CharField(label=_("Region"), max_length=100, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _picker(self.fields["parent"], "teams")
        _picker(self.fields["backup_team"], "teams")
        _styled(self)


class SkillTagForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    category = forms.CharField(label=_("Category"), max_length=100, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


class TypeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    key = forms.CharField(label=_("Key"), max_length=40, required=False,
                          help_text=_("Lower-case letters, digits, - and _ (used by the API, imports and rules)."))
    prefix = forms.CharField(label=_("Code prefix"), max_length=4, required=False,
                             help_text=_("1 to 4 upper-case letters starting every code, e.g. WD."))
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    process_steps = forms.CharField(label=_("Process steps"), required=False,
                                    widget=forms.Textarea(attrs={"rows": 3}),
                                    help_text=_("One step a line, in order (production types), e.g. 开模, 注塑, 质检."))

    def __init__(self, *args, **kwargs):
        from closeloop.workorders.models import Kind

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = Kind.choices
        _styled(self)


class FieldForm(forms.Form):
    """One custom field in the form designer (administration/designer.py)."""

    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    key = forms.CharField(label=_("Key"), max_length=40, required=False,
                          help_text=_("Lower-case letters, digits and _ (custom.<key> in the API and rules)."))
    kind = forms.ChoiceField(label=_("Field type"), required=False)
    required = forms.BooleanField(label=_("Required"), required=False)
    help_text = forms.CharField(label=_("Help text"), max_length=200, required=False)
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False, help_text=_("Numbers: e.g. °C, MPa."))
    min_value = forms.CharField(label=_("Minimum"), max_length=30, required=False)
    max_value = forms.CharField(label=_("Maximum"), max_length=30, required=False)
    choices = forms.CharField(label=_("Options"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("Choice fields: one option a line."))

    def __init__(self, *args, **kwargs):
        from closeloop.workorders.models import FieldKind

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = FieldKind.choices
        _styled(self)
        self.fields["required"].widget.attrs["class"] = "form-check-input"
        self.fields["kind"].widget.attrs["data-designer-kind"] = "1"


class PolicyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    key = forms.CharField(label=_("Key"), max_length=40, required=False,
                          help_text=_("Lower-case letters, digits, - and _ (used by the API, imports and rules)."))
    order = forms.CharField(label=_("Order"), max_length=10, required=False, initial="100",
                            help_text=_("Policies are tried from the lowest number; the first whose condition "
                                        "matches applies."))
    calendar = forms.ChoiceField(label=_("Business calendar"), required=False)
    condition = forms.CharField(label=_("Condition (CEL)"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                help_text=_('Empty: every work order. E.g. wo.priority == "urgent" && '
                                            'wo.customer.tier == "gold"'))
    target_response = forms.CharField(label=_("First response (minutes)"), max_length=10, required=False)
    target_arrival = forms.CharField(label=_("Arrival on site (minutes)"), max_length=10, required=False)
    target_resolution = forms.CharField(label=_("Technical resolution (minutes)"), max_length=10, required=False)
    target_closure = forms.CharField(label=_("Closure (minutes)"), max_length=10, required=False)
    response_actions = forms.MultipleChoiceField(label=_("What counts as the first response"), required=False,
                                                 widget=forms.CheckboxSelectMultiple)
    ladder = forms.CharField(label=_("Escalation ladder (JSON)"), required=False,
                             widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
                             help_text=_('Levels as in the API, e.g. [{"level": 1, "pct": 80, "actions": '
                                         '["remind_assignee"]}]. Empty: no escalation.'))

    def __init__(self, *args, editing: bool = False, **kwargs):
        from closeloop.sla.models import BusinessCalendar
        from closeloop.sla.services import RESPONSE_ACTION_CHOICES
        from closeloop.workorders.lifecycle import TRANSITIONS

        super().__init__(*args, **kwargs)
        self.fields["calendar"].choices = [("", "—")] + [(c.key, c.name) for c in BusinessCalendar.objects.all()]
        self.fields["response_actions"].choices = [
            (a, TRANSITIONS[a].label if a in TRANSITIONS else a) for a in RESPONSE_ACTION_CHOICES]
        _styled(self)
        self.fields["response_actions"].widget.attrs["class"] = "form-check-input"
        self.fields["condition"].widget.attrs["spellcheck"] = "false"
        if editing:
            self.fields["key"].disabled = True


WEEKDAYS = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]


class CalendarForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    key = forms.CharField(label=_("Key"), max_length=40, required=False,
                          help_text=_("Lower-case letters, digits, - and _ (used by the API, imports and rules)."))
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    tz = forms.ChoiceField(label=_("Time zone"), required=False)

    def __init__(self, *args, editing: bool = False, **kwargs):
        from closeloop.sla.models import BusinessCalendar

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = BusinessCalendar.Kind.choices
        if editing:
            self.fields["key"].disabled = True
        self.fields["tz"].choices = _zones()
        for i, day in enumerate(WEEKDAYS):
            self.fields[f"week_{i}"] = forms.CharField(
                label=day, max_length=100, required=False,
                help_text=_("e.g. 09:00-12:00, 13:00-18:00; empty: not a working day") if i == 0 else "")
        _styled(self)


class HolidayYearForm(forms.Form):
    holidays = forms.CharField(label=_("Holidays"), required=False, widget=forms.Textarea(attrs={"rows": 8}),
                               help_text=_("One date a line (YYYY-MM-DD); ranges as 2027-10-01..2027-10-07."))
    workdays = forms.CharField(label=_("Extra working days (调休)"), required=False,
                               widget=forms.Textarea(attrs={"rows": 4}),
                               help_text=_("Weekend days worked instead, one a line."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)
