"""Email-in part of the demo (a scenario, demo/scenarios.py): an inbound SMTP mailbox for repair
requests, one mail from a known contact that opened a work order, a reply threaded onto it by
its code, and one mail from an unknown sender held for a dispatcher (docs/email.md)."""

from email.message import EmailMessage

from closeloop.customers.models import Contact
from closeloop.workorders.models import WorkOrderType

ORDER = 85  # after events (80), before analytics (90), so its figures count the mail's work order


def _mail(frm: str, name: str, subject: str, body: str, mid: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = f"{name} <{frm}>", "service@demo.closeloop.example", \
        subject, mid
    m.set_content(body)
    return bytes(m)


def seed() -> str | None:
    from .models import Mailbox
    from .services import do_create_mailbox, do_receive_message

    if Mailbox.objects.exists():
        return None
    wo_type = (WorkOrderType.objects.filter(key="repair", active=True).first()
               or WorkOrderType.objects.filter(active=True, kind="repair").order_by("id").first())
    contact = Contact.objects.filter(is_active=True, customer__is_active=True).exclude(email="").order_by("id").first()
    if wo_type is None or contact is None:
        return None
    from closeloop.accounts.models import Role, User

    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    if admin is None:
        return None
    mb = do_create_mailbox(actor=admin, data={"name": "报修邮箱", "kind": "smtp",
                                                   "address": "service@demo.closeloop.example", "type": wo_type.key})
    first = do_receive_message(_mail(contact.email, contact.name, "监护仪屏幕闪烁",
                                     "您好，5 楼监护仪屏幕一直闪烁，请尽快派人来看看。", "<demo-1@hospital.example>"), mb)
    if first.work_order is not None:
        do_receive_message(_mail(contact.email, contact.name, f"Re: [{first.work_order.code}] 监护仪屏幕闪烁",
                                 "补充：设备序列号在背面铭牌上，下午两点后科室有人。", "<demo-2@hospital.example>"), mb)
    do_receive_message(_mail("zhao@new-clinic.example", "赵医生", "新诊所的 B 超需要保养",
                             "我们是新开的诊所，B 超想做一次保养，怎么安排？", "<demo-3@new-clinic.example>"), mb)
    code = first.work_order.code if first.work_order else "—"
    return f"mailin: mailbox service@demo.closeloop.example opened {code} from mail; one mail held at /mail/held/"
