"""Console pages for rules and keyword libraries. Managers and admins edit, dispatchers
see (and may dry-run); engineers and finance get a 403, customers a 404. Thin: the
services (and console.py) do the work; forms only parse.

The editor works without JS (CEL textarea, actions as JSON, a "Try" button that posts
the form); static/src/rules.js adds the visual builder and the actions editor."""

import json
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from closeloop.accounts.models import Role, Team, User
from closeloop.core import conditions
from closeloop.core.errors import DomainError, PreconditionFailed, ValidationFailed
from closeloop.workorders import selectors as wo_selectors
from closeloop.workorders.models import LinkKind, Priority, WorkOrderType

from . import console, runner, services
from .forms import KeywordLibraryForm, RuleForm
from .models import KeywordLibrary, Rule

_ACTION_FIELD = re.compile(r"^actions\[(\d+)\](?:\.(.*))?$")


def _reader(request):
    """Who may see the rules console: managers, admins, dispatchers."""
    if request.user.role == Role.CUSTOMER:
        raise Http404(_("Not found."))
    if not services.may_read(request.user):
        raise PermissionDenied(_("Your role may not see rules."))


def _manager(request):
    _reader(request)
    if not services.may_manage(request.user):
        raise PermissionDenied(_("Only managers and administrators maintain rules."))


def _rule_or_404(pk) -> Rule:
    rule = Rule.objects.select_related("owner", "scope_type", "scope_team").filter(pk=pk).first()
    if rule is None:
        raise Http404(_("No such rule."))
    return rule


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


# ---- the list ----------------------------------------------------------------------------------------

@login_required
def rule_list(request):
    _reader(request)
    rules = list(Rule.objects.select_related("owner", "scope_type", "scope_team").order_by("order", "id"))
    return render(request, "rules/list.html", {
        "rules": rules, "may_manage": services.may_manage(request.user), "libraries": KeywordLibrary.objects.count(),
    })


@login_required
@require_POST
def toggle(request, pk):
    """Switch a rule on or off (`enabled` = 1 / 0, so a double click does not flip it back).
    htmx swaps the row in place; without JS the list reloads."""
    _manager(request)
    rule = _rule_or_404(pk)
    try:
        services.do_update_rule(actor=request.user, rule=rule, data={"enabled": request.POST.get("enabled") == "1"})
    except DomainError as e:
        messages.error(request, _err(e))
    if request.headers.get("HX-Request"):
        ids = list(Rule.objects.order_by("order", "id").values_list("pk", flat=True))
        return render(request, "rules/_row.html", {"rule": _rule_or_404(pk), "may_manage": True,
                                                   "first": ids[:1] == [pk], "last": ids[-1:] == [pk]})
    return redirect("rules:list")


@login_required
@require_POST
def move(request, pk):
    _manager(request)
    try:
        services.do_move_rule(actor=request.user, rule=_rule_or_404(pk), direction=request.POST.get("direction", ""))
    except DomainError as e:
        messages.error(request, _err(e))
    return redirect(reverse("rules:list") + f"#rule-{pk}")


def _err(e: DomainError) -> str:
    if e.problems:
        return "; ".join(f"{p.field}: {p.message}" for p in e.problems)
    return str(e.message)


# ---- the editor --------------------------------------------------------------------------------------

def _editor_config(form: RuleForm, action_errors: dict, readonly: bool) -> dict:
    condition = form["condition"].value() or ""
    return {
        "fields": console.builder_fields(),
        "operator_labels": console.operator_labels(),
        "tree": console.parse_cel(condition),
        "action_types": list(runner.ACTIONS),
        "action_errors": action_errors,
        "priorities": [[v, str(lbl)] for v, lbl in Priority.choices],
        "types": [[t.key, t.name] for t in WorkOrderType.objects.filter(active=True).order_by("name")],
        "teams": [[t.code, t.name] for t in Team.objects.order_by("name")],
        "links": [[v, str(lbl)] for v, lbl in LinkKind.choices],
        "channels": sorted(services.NOTIFY_CHANNELS),
        "settable": [f for f in runner.SETTABLE if f != "custom"],
        "engineers": list(User.objects.filter(role=Role.ENGINEER, is_active=True).order_by("username")
                          .values_list("username", flat=True)[:500]),
        "check_url": "/api/v1/conditions/check",
        "build_url": reverse("rules:builder_build"),
        "parse_url": reverse("rules:builder_parse"),
        "readonly": readonly,
    }


def _condition_error(source: str) -> dict | None:
    """Where a condition breaks (line, column and the line itself, for the caret)."""
    if not (source or "").strip():
        return None
    try:
        conditions.check_condition(source, services.sample_context())
        return None
    except ValidationFailed:
        pass
    try:
        conditions.compile_condition(source)
    except conditions.ConditionError as exc:
        if exc.line and exc.column:
            text = source.split("\n")[exc.line - 1]
            # As wide as the text before the column: CJK characters take two cells.
            pad = "".join("\u3000" if ord(c) >= 0x2E80 else "\t" if c == "\t" else " " for c in text[:exc.column - 1])
            return {"line": exc.line, "column": exc.column, "text": text, "pad": pad}
    return None


def _apply_problems(form: RuleForm, problems) -> dict[int, list[str]]:
    """Put each service problem next to its field; actions[i].x → "Action i+1: x: …"."""
    action_errors: dict[int, list[str]] = {}
    for p in problems:
        m = _ACTION_FIELD.match(p.field)
        if m:
            i = int(m.group(1))
            msg = f"{m.group(2)}: {p.message}" if m.group(2) else str(p.message)
            action_errors.setdefault(i, []).append(msg)
            form.add_error("actions", _("Action %(n)d: %(m)s") % {"n": i + 1, "m": msg})
        elif p.field in form.fields:
            form.add_error(p.field, str(p.message))
        else:
            form.add_error(None, f"{p.field}: {p.message}")
    return action_errors


@login_required
def edit(request, pk=None):
    _reader(request)
    rule = _rule_or_404(pk) if pk is not None else None
    may_manage = services.may_manage(request.user)
    if rule is None and not may_manage:
        raise PermissionDenied(_("Only managers and administrators maintain rules."))
    readonly = not may_manage
    action_errors: dict = {}
    tried = None
    try_code = ""
    if request.method == "POST":
        trying = "_try" in request.POST
        if not trying and readonly:
            raise PermissionDenied(_("Only managers and administrators maintain rules."))
        try_code = request.POST.get("try_code", "").strip()
        if readonly:
            # A reader tries the saved rule (the form is read-only for them).
            form = RuleForm(initial=RuleForm.initial_for(rule), readonly=True)
            try:
                tried = services.dry_run(rule=rule, wo=wo_selectors.access_work_order_by_code(request.user, try_code))
            except DomainError as e:
                tried = {"error_message": str(e.message)}
        else:
            form = RuleForm(request.POST, trying=trying)
            tried, action_errors = _post(request, form, rule, trying, try_code)
            if tried == "saved":
                return redirect("rules:list")
        if trying and _wants_json(request):
            return JsonResponse({
                "ok": tried is not None and "error_message" not in tried and not form.errors,
                "result": tried, "errors": {k: [str(x) for x in v] for k, v in form.errors.items()},
                "action_errors": action_errors,
                "html": render_to_string("rules/_try_result.html", {"tried": tried}, request=request),
            })
    else:
        form = RuleForm(initial=RuleForm.initial_for(rule) if rule else {"enabled": True, "order": _next_order()},
                        readonly=readonly)
    condition_value = form["condition"].value() or ""
    return render(request, "rules/edit.html", {
        "form": form, "rule": rule, "readonly": readonly, "may_manage": may_manage,
        "config": _editor_config(form, action_errors, readonly), "tried": tried, "try_code": try_code,
        "condition_error": _condition_error(condition_value) if form.errors.get("condition") else None,
        "trigger_fields": console.trigger_fields(),
    })


def _post(request, form: RuleForm, rule: Rule | None, trying: bool, try_code: str):
    """Save (returns ("saved", {})) or try the posted form; else (dry run or None, action errors)."""
    if not form.is_valid():
        return None, {}
    data = form.service_data()
    try:
        if trying:
            if not try_code:
                return {"error_message": _("Enter a work order code.")}, {}
            return services.dry_run_draft(actor=request.user, data=data, code=try_code), {}
        if rule is None:
            rule = services.do_create_rule(actor=request.user, data=data)
            messages.success(request, _("Rule “%(n)s” created.") % {"n": rule.name})
        else:
            services.do_update_rule(actor=request.user, rule=rule, data=data,
                                    expected_version=form.cleaned_data.get("version"))
            messages.success(request, _("Rule “%(n)s” saved.") % {"n": rule.name})
        return "saved", {}
    except ValidationFailed as e:
        return None, _apply_problems(form, e.problems)
    except PreconditionFailed as e:
        form.add_error(None, str(e.message))
    except DomainError as e:  # e.g. no such work order to try
        if trying:
            return {"error_message": str(e.message)}, {}
        form.add_error(None, str(e.message))
    return None, {}


def _next_order() -> int:
    last = Rule.objects.order_by("-order").values_list("order", flat=True).first()
    return (last // 10 + 1) * 10 if last is not None else 100


@login_required
def delete(request, pk):
    _manager(request)
    rule = _rule_or_404(pk)
    if request.method == "POST":
        try:
            services.do_delete_rule(actor=request.user, rule=rule)
            messages.success(request, _("Rule “%(n)s” deleted.") % {"n": rule.name})
        except DomainError as e:
            messages.error(request, _err(e))
        return redirect("rules:list")
    return render(request, "rules/confirm_delete.html", {
        "what": _("the rule “%(n)s”") % {"n": rule.name}, "back": reverse("rules:edit", args=[rule.pk]),
        "kind": "rule",
    })


# ---- builder helpers (JSON, for rules.js) ------------------------------------------------------------

def _json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


@login_required
@require_POST
def builder_build(request):
    """{"tree": …} → {"condition": CEL}, or 422 {"error": message}."""
    _reader(request)
    tree = _json_body(request).get("tree")
    try:
        return JsonResponse({"condition": console.build_cel(tree)})
    except conditions.ConditionError as exc:
        return JsonResponse({"error": exc.message}, status=422)


@login_required
@require_POST
def builder_parse(request):
    """{"condition": CEL} → {"tree": … or null} (null: the builder cannot show it)."""
    _reader(request)
    source = _json_body(request).get("condition")
    return JsonResponse({"tree": console.parse_cel(source if isinstance(source, str) else "")})


# ---- keyword libraries ---------------------------------------------------------------------------------

@login_required
def keywords(request):
    _reader(request)
    usage = services.library_usage()
    libs = [(lib, usage.get(lib.name, [])) for lib in KeywordLibrary.objects.select_related("updated_by")]
    return render(request, "rules/keywords.html", {"libraries": libs, "may_manage": services.may_manage(request.user)})


@login_required
def keyword_edit(request, name=None):
    _reader(request)
    lib = None
    if name is not None:
        lib = KeywordLibrary.objects.filter(name=name).first()
        if lib is None:
            raise Http404(_("No such keyword library."))
    may_manage = services.may_manage(request.user)
    if lib is None and not may_manage:
        raise PermissionDenied(_("Only managers and administrators maintain rules."))
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied(_("Only managers and administrators maintain rules."))
        form = KeywordLibraryForm(request.POST, editing=lib is not None,
                                  initial={"name": lib.name} if lib else None)
        if form.is_valid():
            target = lib.name if lib else form.cleaned_data["name"]
            try:
                if lib is None and KeywordLibrary.objects.filter(name=target).exists():
                    form.add_error("name", _("A library with this name exists already."))
                else:
                    saved = services.do_save_keyword_library(actor=request.user, name=target, data={
                        "label": form.cleaned_data["label"], "words": form.cleaned_data["words"]})
                    messages.success(request, _("Keyword library “%(n)s” saved (%(c)d words).")
                                     % {"n": saved.name, "c": len(saved.words)})
                    return redirect("rules:keywords")
            except ValidationFailed as e:
                for p in e.problems:
                    form.add_error(p.field if p.field in form.fields else None, str(p.message))
    else:
        form = KeywordLibraryForm(initial={"name": lib.name, "label": lib.label, "words": "\n".join(lib.words)}
                                  if lib else None, editing=lib is not None, readonly=not may_manage)
    return render(request, "rules/keyword_edit.html", {
        "form": form, "lib": lib, "may_manage": may_manage,
        "used_by": services.library_usage().get(lib.name, []) if lib else [],
    })


@login_required
def keyword_delete(request, name):
    _manager(request)
    lib = KeywordLibrary.objects.filter(name=name).first()
    if lib is None:
        raise Http404(_("No such keyword library."))
    if request.method == "POST":
        try:
            services.do_delete_keyword_library(actor=request.user, lib=lib)
            messages.success(request, _("Keyword library “%(n)s” deleted.") % {"n": lib.name})
            return redirect("rules:keywords")
        except DomainError as e:
            messages.error(request, _err(e))
            return redirect("rules:keyword_edit", name=lib.name)
    return render(request, "rules/confirm_delete.html", {
        "what": _("the keyword library “%(n)s”") % {"n": lib.name},
        "back": reverse("rules:keyword_edit", args=[lib.name]), "kind": "library",
        "used_by": services.library_usage().get(lib.name, []),
    })
