"""Console forms for rules and keyword libraries. They only parse what the browser
sends (text, numbers, JSON); the services check everything else and name the field."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from closeloop.accounts.models import Team
from closeloop.core import conditions
from closeloop.workorders.models import WorkOrderType

from . import services
from .models import Rule, Trigger


def has_schedule_minutes() -> bool:
    """The schedule trigger's interval field, when the model (and the service) have it."""
    return "schedule_minutes" in {f.name for f in Rule._meta.get_fields()} and "schedule_minutes" in services.RULE_FIELDS


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    trigger = forms.ChoiceField(label=_("Trigger"))
    trigger_field = forms.CharField(label=_("Field that changed"), required=False, max_length=60,
                                    widget=forms.TextInput(attrs={"list": "trigger-fields"}),
                                    help_text=_("For “a field changed”: priority, title, custom.shift …"))
    schedule_minutes = forms.IntegerField(label=_("Every (minutes)"), required=False, min_value=1)
    condition = forms.CharField(label=_("Condition (CEL)"), required=False, max_length=conditions.MAX_SOURCE * 2,
                                widget=forms.Textarea(attrs={"rows": 3, "class": "font-monospace", "spellcheck": "false"}),
                                help_text=_("Empty: the rule always holds. E.g. wo.keywords.urgent && "
                                            "wo.site.grade == \"三级甲等\""))
    actions = forms.CharField(label=_("Actions (JSON)"), required=False, max_length=50000,
                              widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace",
                                                           "spellcheck": "false"}),
                              help_text=_('A list, e.g. [{"type": "set_priority", "priority": "urgent"}]'))
    scope_type = forms.ChoiceField(label=_("Only for type"), required=False)
    scope_team = forms.ChoiceField(label=_("Only for team"), required=False)
    order = forms.IntegerField(label=_("Order"), initial=100, min_value=-999999, max_value=999999,
                               help_text=_("Rules run from the lowest number up."))
    stop_after = forms.BooleanField(label=_("Stop after this rule (no later rule runs for the event)"),
                                    required=False)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, readonly=False, trying=False, **kwargs):
        super().__init__(*args, **kwargs)
        if trying:  # a dry run of an unsaved rule does not need its name yet
            self.fields["name"].required = False
        self.fields["trigger"].choices = Trigger.choices
        self.fields["scope_type"].choices = [("", _("every type"))] + [
            (t.key, t.name) for t in WorkOrderType.objects.filter(active=True).order_by("name")]
        self.fields["scope_team"].choices = [("", _("every team"))] + [
            (t.code, t.name) for t in Team.objects.order_by("name")]
        if not has_schedule_minutes():
            del self.fields["schedule_minutes"]
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs.setdefault("class", "form-select")
            elif not isinstance(field.widget, forms.HiddenInput):
                css = field.widget.attrs.get("class", "")
                field.widget.attrs["class"] = f"form-control {css}".strip()
            if readonly:
                field.disabled = True
        self.fields["condition"].widget.attrs["data-testid"] = "condition"
        self.fields["actions"].widget.attrs["data-testid"] = "actions-json"

    def clean_actions(self):
        raw = (self.cleaned_data.get("actions") or "").strip()
        if not raw:
            return []
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(e)s") % {"e": exc}) from None
        if not isinstance(value, list):
            raise forms.ValidationError(_("A list of actions, each an object with a type."))
        return value

    def service_data(self) -> dict:
        """What the services take (RULE_FIELDS)."""
        d = self.cleaned_data
        data = {k: d[k] for k in ("name", "description", "trigger", "trigger_field", "condition", "actions", "order",
                                  "enabled", "stop_after")}
        if d.get("trigger") != "field_changed":
            data["trigger_field"] = ""  # its input is hidden for the other triggers
        data["scope_type"] = d.get("scope_type") or None
        data["scope_team"] = d.get("scope_team") or None
        if "schedule_minutes" in self.fields:
            # Only the schedule trigger has an interval (the input is hidden for the others).
            data["schedule_minutes"] = d.get("schedule_minutes") if d.get("trigger") == "schedule" else None
        return data

    @staticmethod
    def initial_for(rule: Rule) -> dict:
        initial = {
            "name": rule.name, "description": rule.description, "trigger": rule.trigger,
            "trigger_field": rule.trigger_field, "condition": rule.condition,
            "actions": json.dumps(services.masked_actions(rule.actions), ensure_ascii=False, indent=1), "order": rule.order,
            "stop_after": rule.stop_after, "enabled": rule.enabled, "version": rule.version,
            "scope_type": rule.scope_type.key if rule.scope_type_id else "",
            "scope_team": rule.scope_team.code if rule.scope_team_id else "",
        }
        if has_schedule_minutes():
            initial["schedule_minutes"] = getattr(rule, "schedule_minutes", None)
        return initial


class KeywordLibraryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=40,
                           help_text=_("Lower-case letters, digits and _; conditions read wo.keywords.<name>."))
    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    words = forms.CharField(label=_("Words (one a line)"), required=False, max_length=100000,
                            widget=forms.Textarea(attrs={"rows": 12}))

    def __init__(self, *args, readonly=False, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"
            if readonly:
                field.disabled = True
        if editing:
            self.fields["name"].disabled = True

    def clean_words(self):
        return [w.strip() for w in (self.cleaned_data.get("words") or "").splitlines() if w.strip()]
