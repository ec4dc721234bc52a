"""The holiday editor of a business calendar (Settings → Business calendars → a calendar).

One year at a time: the year's holidays and extra working days (调休) typed in, one date a line (ranges
as 2027-10-01..2027-10-07), or imported from a CSV/.xlsx file (sla.holidays). Writes go through
sla.services (do_set_year_dates / do_import_dates), which recompute open work orders like any calendar
change. For a China calendar, the page says which years the bundled calendar already covers."""

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from closeloop.core.clock import now
from closeloop.core.errors import DomainError, FieldProblem, ValidationFailed
from closeloop.sla import holidays as holiday_files
from closeloop.sla import selectors as sla_selectors
from closeloop.sla import services as sla_services
from closeloop.sla.calendars import china_covers
from closeloop.sla.models import BusinessCalendar

from . import forms
from .selectors import may_see_setup

MAX_RANGE_DAYS = 60


def _calendar(request, ref: str) -> BusinessCalendar:
    if not may_see_setup(request.user):
        raise Http404()
    cal = BusinessCalendar.objects.filter(key=ref).first()
    if cal is None:
        raise Http404()
    return cal


def _year(value, default: int) -> int:
    v = str(value or "").strip()
    return int(v) if v.isdigit() and 1900 <= int(v) <= 2200 else default


def expand(text: str, field: str) -> list[str]:
    """Lines of dates, or ranges a..b, as ISO dates (full-width digits and 2027/10/1 accepted)."""
    import unicodedata

    out = []
    for line in unicodedata.normalize("NFKC", text or "").replace(",", "\n").splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        a, sep, b = line.partition("..")
        try:
            start = date.fromisoformat(a.strip().replace("/", "-")) if "-" in a or "/" in a else None
            if start is None:
                raise ValueError
            if sep:
                end = date.fromisoformat(b.strip().replace("/", "-"))
                if not 0 <= (end - start).days <= MAX_RANGE_DAYS:
                    raise ValidationFailed(FieldProblem(field, _("A range runs forwards, at most %(n)d days: "
                                                                 "%(v)s.") % {"n": MAX_RANGE_DAYS, "v": line}))
                out += [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
            else:
                out.append(start.isoformat())
        except ValueError:
            raise ValidationFailed(FieldProblem(field, _("Not a date (YYYY-MM-DD): %(v)s.") % {"v": line[:40]})) \
                from None
    return out


def holiday_context(request, cal: BusinessCalendar, *, year_form=None) -> dict:
    this_year = now().year
    year = _year(request.GET.get("year") or request.POST.get("year"), this_year)
    by_year = sla_selectors.calendar_years(cal)
    years = sorted(set(by_year) | {this_year, this_year + 1, year})
    dates = by_year.get(year, {"holidays": [], "workdays": []})
    form = year_form or forms.HolidayYearForm(initial={"holidays": "\n".join(dates["holidays"]),
                                                       "workdays": "\n".join(dates["workdays"])})
    return {
        "holiday_editor": True, "year": year,
        "years": [{"year": y, "has_data": sla_selectors.has_holiday_data(cal, y),
                   "bundled": cal.kind == BusinessCalendar.Kind.CHINA and china_covers(y)} for y in years],
        "bundled": cal.kind == BusinessCalendar.Kind.CHINA and china_covers(year),
        "is_china": cal.kind == BusinessCalendar.Kind.CHINA,
        "is_always": cal.kind == BusinessCalendar.Kind.ALWAYS,
        "year_form": form,
        "year_url": reverse("administration:calendar_year", args=[cal.key]),
        "import_url": reverse("administration:calendar_import", args=[cal.key]),
    }


def _back(cal: BusinessCalendar, year: int):
    return redirect(reverse("administration:edit", args=["calendars", cal.key]) + f"?year={year}#holidays")


@login_required
@require_POST
def save_year(request, ref: str):
    cal = _calendar(request, ref)
    year = _year(request.POST.get("year"), now().year)
    form = forms.HolidayYearForm(request.POST)
    form.is_valid()
    try:
        sla_services.do_set_year_dates(actor=request.user, calendar=cal, year=year,
                                       holidays=expand(request.POST.get("holidays", ""), "holidays"),
                                       workdays=expand(request.POST.get("workdays", ""), "workdays"))
    except DomainError as e:
        from .views import render_edit

        forms.apply_problems(form, e)
        return render_edit(request, "calendars", cal, add_form=form, status=422)
    messages.success(request, _("Saved the holidays of %(y)d.") % {"y": year})
    return _back(cal, year)


@login_required
@require_POST
def import_dates(request, ref: str):
    cal = _calendar(request, ref)
    year = _year(request.POST.get("year"), now().year)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationFailed(FieldProblem("file", _("Choose a .csv or .xlsx file.")))
        if upload.size > holiday_files.MAX_BYTES:
            raise ValidationFailed(FieldProblem("file", _("The file is larger than %(n)d KB.")
                                                % {"n": holiday_files.MAX_BYTES // 1024}))
        holidays, workdays = holiday_files.parse(upload.read(), upload.name)
        years = sla_services.do_import_dates(actor=request.user, calendar=cal, holidays=holidays, workdays=workdays)
    except DomainError as e:
        messages.error(request, " ".join(str(p.message) for p in e.problems) or str(e))
        return _back(cal, year)
    messages.success(request, _("Imported %(h)d holidays and %(w)d working days for %(years)s.")
                     % {"h": len(holidays), "w": len(workdays), "years": ", ".join(map(str, years))})
    return _back(cal, years[0] if len(years) == 1 else year)
