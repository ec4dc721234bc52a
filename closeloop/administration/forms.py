"""Forms for rendering and for carrying the services' field errors back beside each input.

Validation is the services' (one set of rules for the API and the pages): these forms only
collect text; `apply_problems` puts each `FieldProblem` under its field."""

import zoneinfo

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

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
    code = forms.CharField(label=_("Code"), max_length=40, required=False,
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
