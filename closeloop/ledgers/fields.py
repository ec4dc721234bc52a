"""What each kind of ledger row holds: its fields, the headers that name them (Chinese
and English), and how a cell's text becomes a value (dates, phones, numbers).

Used by services (guessing the mapping, validating rows) and the mapping page."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class Field:
    name: str
    label: object
    headers: tuple[str, ...]
    required: bool = False
    kind: str = "text"  # text | date | phone | decimal | email | choice | ref
    max_length: int = 200


EXTERNAL_ID = Field("external_id", _("External id"), ("外部编号", "外部id", "外部ID", "ERP编号", "原系统编号",
                                                       "external id", "external_id", "erp id", "id"), max_length=100)

FIELDS: dict[str, tuple[Field, ...]] = {
    "customer": (
        Field("code", _("Customer code"), ("客户编码", "客户编号", "客户代码", "编码", "编号", "代码", "customer code",
                                            "code"), required=True, max_length=40),
        Field("name", _("Customer name"), ("客户名称", "客户", "名称", "单位名称", "医院名称", "customer name",
                                            "customer", "name"), required=True),
        Field("tier", _("Tier"), ("客户等级", "等级", "级别", "tier", "level"), kind="choice", max_length=20),
        Field("province", _("Province"), ("省份", "省", "province"), max_length=50),
        Field("phone", _("Phone"), ("电话", "联系电话", "手机", "phone", "telephone", "tel"), kind="phone", max_length=32),
        Field("notes", _("Notes"), ("备注", "说明", "notes", "remarks", "comment"), max_length=5000),
        EXTERNAL_ID,
    ),
    "site": (
        Field("code", _("Site code"), ("站点编码", "站点编号", "地点编码", "编码", "编号", "site code", "code"),
              required=True, max_length=40),
        Field("name", _("Site name"), ("站点名称", "站点", "地点", "院区", "site name", "site", "name"), required=True),
        Field("customer", _("Customer (code or name)"), ("客户编码", "客户名称", "客户", "所属客户", "customer code",
                                                        "customer"), required=True, kind="ref"),
        Field("province", _("Province"), ("省份", "省", "province"), max_length=50),
        Field("city", _("City"), ("城市", "市", "city"), max_length=50),
        Field("address", _("Address"), ("地址", "详细地址", "address"), max_length=300),
        Field("latitude", _("Latitude"), ("纬度", "latitude", "lat"), kind="decimal"),
        Field("longitude", _("Longitude"), ("经度", "longitude", "lng", "lon"), kind="decimal"),
        Field("grade", _("Grade"), ("等级", "医院等级", "grade"), max_length=40),
        EXTERNAL_ID,
    ),
    "contact": (
        Field("name", _("Contact name"), ("联系人", "姓名", "联系人姓名", "contact", "contact name", "name"),
              required=True, max_length=100),
        Field("customer", _("Customer (code or name)"), ("客户编码", "客户名称", "客户", "所属客户", "customer code",
                                                        "customer"), required=True, kind="ref"),
        Field("site", _("Site (code or name)"), ("站点编码", "站点", "站点名称", "site code", "site"), kind="ref"),
        Field("phone", _("Phone"), ("电话", "手机", "联系电话", "手机号", "phone", "mobile", "tel"), kind="phone",
              max_length=32),
        Field("email", _("Email"), ("邮箱", "电子邮件", "email", "e-mail"), kind="email", max_length=254),
        Field("title", _("Job title"), ("职务", "职位", "科室", "title", "job title"), max_length=100),
        EXTERNAL_ID,
    ),
    "asset": (
        Field("serial_number", _("Serial number"), ("序列号", "设备序列号", "出厂编号", "机身号", "sn", "serial number",
                                                   "serial"), required=True, max_length=100),
        Field("name", _("Asset name"), ("设备名称", "资产名称", "名称", "asset name", "asset", "name")),
        Field("customer", _("Customer (code or name)"), ("客户编码", "客户名称", "客户", "所属客户", "使用单位",
                                                        "customer code", "customer"), required=True, kind="ref"),
        Field("site", _("Site (code or name)"), ("站点编码", "站点", "站点名称", "安装地点", "site code", "site"),
              kind="ref"),
        Field("category", _("Equipment type"), ("设备类型", "类型", "类别", "category", "type"), max_length=100),
        Field("manufacturer", _("Manufacturer"), ("厂家", "生产厂家", "制造商", "品牌", "manufacturer", "brand"),
              max_length=100),
        Field("model", _("Model"), ("型号", "规格型号", "model"), max_length=100),
        Field("batch", _("Batch"), ("批次", "批号", "batch", "lot"), max_length=100),
        Field("install_date", _("Install date"), ("安装日期", "装机日期", "安装时间", "install date", "installed"),
              kind="date"),
        EXTERNAL_ID,
    ),
    "person": (
        Field("username", _("Employee number"), ("工号", "员工编号", "用户名", "账号", "employee number", "employee id",
                                                 "username", "login"), required=True, max_length=150),
        Field("display_name", pgettext_lazy("person", "Name"), ("姓名", "名字", "name", "full name"), required=True, max_length=100),
        Field("role", _("Role"), ("角色", "岗位", "role"), kind="choice", max_length=20),
        Field("team", _("Team (code or name)"), ("班组", "团队", "部门", "小组", "team", "group"), kind="ref"),
        Field("phone", _("Phone"), ("电话", "手机", "手机号", "联系电话", "phone", "mobile"), kind="phone", max_length=32),
        Field("email", _("Email"), ("邮箱", "电子邮件", "email", "e-mail"), kind="email", max_length=254),
        EXTERNAL_ID,
    ),
    # Work done before closeloop (workorders.history): closed or cancelled, matched on the old number.
    "work_order": (
        Field("old_number", _("Old work order number"), ("原工单号", "旧工单号", "原单号", "工单号", "工单编号", "单号",
                                                       "old number", "order number", "ticket", "number"),
              required=True, max_length=100),
        Field("type", _("Work order type (key or name)"), ("工单类型", "类型", "work order type", "type"),
              required=True, kind="ref", max_length=100),
        Field("title", _("Title"), ("标题", "主题", "故障现象", "title", "subject"), required=True),
        Field("description", _("Description"), ("描述", "详细描述", "故障描述", "问题描述", "description"),
              max_length=5000),
        Field("customer", _("Customer (code or name)"), ("客户编码", "客户名称", "客户", "报修单位", "customer code",
                                                        "customer"), kind="ref"),
        Field("site", _("Site (code or name)"), ("站点编码", "站点", "站点名称", "site code", "site"), kind="ref"),
        Field("asset", _("Asset serial number"), ("序列号", "设备序列号", "出厂编号", "sn", "serial number", "asset"),
              kind="ref", max_length=100),
        Field("priority", _("Priority"), ("优先级", "紧急程度", "priority"), kind="choice", max_length=20),
        Field("status", _("Status (closed or cancelled)"), ("状态", "工单状态", "status"), kind="choice",
              max_length=20),
        Field("reported_at", _("Reported at"), ("报修时间", "报修日期", "创建时间", "提交时间", "reported at", "reported",
                                                "created"), required=True, kind="datetime"),
        Field("closed_at", _("Closed at"), ("关闭时间", "完成时间", "结单时间", "完工日期", "closed at", "closed",
                                            "completed"), kind="datetime"),
        Field("engineer", _("Engineer (employee number or name)"), ("工程师", "维修工程师", "维修人员", "处理人",
                                                                    "engineer", "technician"), kind="ref",
              max_length=150),
        Field("fault_code", _("Fault code"), ("故障代码", "故障码", "fault code"), max_length=40),
        Field("resolution", _("Resolution"), ("处理结果", "解决方案", "处理措施", "resolution"), max_length=5000),
        Field("rating", _("Rating (1-5)"), ("满意度", "评分", "评价", "rating"), kind="choice", max_length=10),
    ),
}

#: The field a row is matched on (besides the external id).
KEY_FIELD = {"customer": "code", "site": "code", "contact": "phone", "asset": "serial_number", "person": "username",
             "work_order": "old_number"}


def fields_for(kind: str) -> tuple[Field, ...]:
    return FIELDS[kind]


def _norm_header(h: str) -> str:
    s = unicodedata.normalize("NFKC", h or "").strip().lower()
    s = re.sub(r"[\s_*:：()（）\[\]【】]+", " ", s).strip()
    return s


def guess_mapping(kind: str, headers: list[str], saved: dict | None = None) -> dict[str, int]:
    """field -> column index. A saved mapping (field -> header text) wins where its header is
    present; then an exact synonym; then a synonym the header starts with. Each column is
    used once, first by the fields listed first."""
    norm = [_norm_header(h) for h in headers]
    out: dict[str, int] = {}
    used: set[int] = set()
    for f in FIELDS[kind]:
        want = (saved or {}).get(f.name)
        if want and _norm_header(want) in norm:
            i = norm.index(_norm_header(want))
            if i not in used:
                out[f.name] = i
                used.add(i)
    for exact in (True, False):
        for f in FIELDS[kind]:
            if f.name in out:
                continue
            for syn in f.headers:
                s = _norm_header(syn)
                hit = next((i for i, h in enumerate(norm) if i not in used and h
                            and (h == s if exact else (h.startswith(s) and len(s) >= 2))), None)
                if hit is not None:
                    out[f.name] = hit
                    used.add(hit)
                    break
    return out


def header_score(kind: str, cells: list[str]) -> int:
    return len(guess_mapping(kind, cells))


# ---- values ------------------------------------------------------------------------

class BadValue(ValueError):
    pass


EXCEL_EPOCH = date(1899, 12, 30)
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%d/%m/%Y", "%m/%d/%Y",
                "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m", "%Y年%m月")


def parse_date(text: str) -> date:
    s = text.strip()
    if re.fullmatch(r"\d{5}(\.\d+)?", s):  # an Excel serial date stored as a number
        n = float(s)
        if 1 <= n < 2958466:
            return EXCEL_EPOCH + timedelta(days=int(n))
    for fmt in DATE_FORMATS:
        try:
            d = datetime.strptime(s, fmt).date()
        except ValueError:
            continue
        if 1900 <= d.year <= 2200:
            return d
    raise BadValue(_("“%(v)s” is not a date (write it as 2024-03-15).") % {"v": s[:40]})


def parse_datetime(text: str) -> datetime:
    """A date and time in the business time zone (aware). A date alone is midnight; an Excel
    serial number may carry the time as its fraction."""
    from django.utils import timezone

    s = text.strip()
    tz = timezone.get_default_timezone()
    if re.fullmatch(r"\d{5}(\.\d+)?", s):
        n = float(s)
        if 1 <= n < 2958466:
            return datetime.combine(EXCEL_EPOCH, datetime.min.time(), tzinfo=tz) + timedelta(days=n)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                "%Y年%m月%d日 %H:%M", "%Y.%m.%d %H:%M"):
        try:
            d = datetime.strptime(s, fmt)
        except ValueError:
            continue
        if 1900 <= d.year <= 2200:
            return d.replace(tzinfo=tz)
    try:
        day = parse_date(s)
    except BadValue:
        raise BadValue(_("“%(v)s” is not a date and time (write it as 2024-03-15 14:30).") % {"v": s[:40]})
    return datetime.combine(day, datetime.min.time(), tzinfo=tz)


PHONE_RE = re.compile(r"^\+?\d{5,20}$")


def parse_phone(text: str) -> str:
    s = re.sub(r"[\s\-()（）]", "", text)
    if s.startswith("+86"):
        s = s[3:]
    if not PHONE_RE.match(s):
        raise BadValue(_("“%(v)s” is not a phone number.") % {"v": text[:40]})
    if len(s) == 11 and s.startswith("1") is False and not s.startswith("0"):
        raise BadValue(_("“%(v)s” is not a phone number.") % {"v": text[:40]})
    return s


def parse_decimal(text: str) -> Decimal:
    try:
        d = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise BadValue(_("“%(v)s” is not a number.") % {"v": text[:40]})
    if not d.is_finite():
        raise BadValue(_("“%(v)s” is not a number.") % {"v": text[:40]})
    return d


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_email(text: str) -> str:
    if not EMAIL_RE.match(text):
        raise BadValue(_("“%(v)s” is not an email address.") % {"v": text[:60]})
    return text.lower()
