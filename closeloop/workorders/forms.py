"""Console forms. The create form is built from the type's CustomField rows, so an
admin's new field appears without code; validation is still the service's."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .fields import value_definitions
from .models import FieldKind, Priority, WorkOrderType


class WorkOrderCreateForm(forms.Form):
    type = forms.ModelChoiceField(label=_("Type"), queryset=WorkOrderType.objects.filter(active=True),
                                  to_field_name="key")
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                  max_length=20000)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    customer = forms.CharField(label=_("Customer code"), required=False, max_length=40)
    site = forms.CharField(label=_("Site code"), required=False, max_length=40)
    asset = forms.CharField(label=_("Asset serial number"), required=False, max_length=100)
    contact = forms.CharField(label=_("Contact"), required=False, max_length=20,
                              help_text=_("Type the name or phone number."))
    fault_code = forms.CharField(label=_("Fault code"), required=False, max_length=40)
    assignee = forms.CharField(label=_("Assign to (username)"), required=False, max_length=150)

    def __init__(self, *args, user=None, wo_type: WorkOrderType | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if user is not None and user.role in ("customer", "engineer"):
            del self.fields["assignee"]
        if user is not None and user.role == "customer":
            del self.fields["customer"]
        if user is not None and user.role in ("customer", "engineer"):
            del self.fields["contact"]  # chosen with the contact picker, which is for the office
        if "assignee" in self.fields:
            self.fields["assignee"] = forms.CharField(
                label=_("Assign to"), required=False, max_length=150,
                help_text=_("Type part of an engineer's name; empty: not now."))
        self.wo_type = wo_type
        self.custom_keys: list[str] = []
        if wo_type is not None:
            add_custom_fields(self, wo_type)
        self.fields["title"].widget.attrs.setdefault("autocomplete", "off")
        if user is not None and user.role not in ("customer", "engineer"):
            _add_pickers(self)
        style_widgets(self)

    def add_error(self, field, error):
        super().add_error(field, error)
        mark_invalid(self)

    def custom_bound_fields(self):
        return [self[f"custom__{key}"] for key in self.custom_keys]

    def service_data(self) -> dict:
        d = self.cleaned_data
        data = {k: (d.get(k) or None) for k in ("customer", "site", "asset", "contact", "assignee")
                if k in self.fields}
        data = {k: v for k, v in data.items() if v}
        data.update(type=d["type"].key, title=d["title"], description=d.get("description", ""),
                    priority=d["priority"], fault_code=d.get("fault_code", ""))
        custom = {}
        for key in self.custom_keys:
            value = d.get(f"custom__{key}")
            if value not in (None, ""):
                custom[key] = value.isoformat() if hasattr(value, "isoformat") else value
        data["custom"] = custom
        return data


def _add_pickers(form: forms.Form) -> None:
    """Search-as-you-type on the plain code inputs (administration's pickers, static/src/picker.js):
    two Chinese characters of a hospital's name find it; without JavaScript the codes still work."""
    from django.urls import reverse

    for name, kind, narrow in (("customer", "customers", False), ("site", "sites", True),
                               ("asset", "assets", True), ("contact", "contacts", True),
                               ("assignee", "engineers", False)):
        if name in form.fields:
            attrs = form.fields[name].widget.attrs
            attrs.update({"data-picker-url": reverse("administration:pick", args=[kind]), "autocomplete": "off",
                          "data-picker-empty": str(_("No match"))})
            if narrow:
                attrs["data-picker-with"] = "customer:customer"


def engineer_choices(blank_label) -> list:
    """Active engineers grouped by team, valued by username (what the services take)."""
    from closeloop.accounts.models import Role, User

    groups: dict[str, list] = {}
    for u in User.objects.filter(role=Role.ENGINEER, is_active=True).select_related("team").order_by(
            "team__name", "username"):
        groups.setdefault(u.team.name if u.team else str(_("No team")), []).append((u.username, str(u)))
    return [("", blank_label), *groups.items()]


def add_custom_fields(form: forms.Form, wo_type: WorkOrderType) -> None:
    """The type's fields in use that take a typed value (photo and signature fields are taken on the phone)."""
    for f in value_definitions(wo_type):
        name = f"custom__{f.key}"
        common = {"label": f"{f.label} ({f.unit})" if f.unit else f.label, "required": False,
                  "help_text": f.help_text}
        if f.kind == FieldKind.NUMBER:
            field = forms.DecimalField(**common)
            field.widget.attrs.update({"inputmode": "decimal", "step": "any"})
            if f.min_value is not None:
                field.widget.attrs["min"] = format(f.min_value.normalize(), "f")
            if f.max_value is not None:
                field.widget.attrs["max"] = format(f.max_value.normalize(), "f")
        elif f.kind == FieldKind.CHOICE:
            field = forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in f.choices], **common)
        elif f.kind == FieldKind.DATE:
            field = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        elif f.kind == FieldKind.BOOLEAN:
            field = forms.BooleanField(**common)
        else:
            field = forms.CharField(max_length=f.max_length or 5000, **common)
        # Required is enforced by the service so the API and the form say the same thing;
        # the browser still gets the hint (and the template marks the label).
        field.widget.attrs["data-required"] = "1" if f.required else "0"
        if f.required:
            field.widget.attrs["required"] = "required"
        form.fields[name] = field
        form.custom_keys.append(f.key)


def style_widgets(form: forms.Form) -> None:
    """Tabler classes on every widget, so templates can render `{{ field }}` as is."""
    for field in form.fields.values():
        w = field.widget
        if isinstance(w, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(w, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        w.attrs["class"] = f"{w.attrs.get('class', '')} {css}".strip()


def mark_invalid(form: forms.Form) -> None:
    for name in form.errors:
        if name in form.fields:
            w = form.fields[name].widget
            if "is-invalid" not in w.attrs.get("class", ""):
                w.attrs["class"] = f"{w.attrs.get('class', '')} is-invalid".strip()
