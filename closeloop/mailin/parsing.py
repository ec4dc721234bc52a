"""Reading a raw mail: sender, subject, text, attachments, and what kind of mail it is.
Pure functions (no database), so each rule is easy to test and to read."""

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from django.utils.html import strip_tags

from closeloop.core import mailids

CODE_IN_SUBJECT = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,4}\d{13})(?![0-9])")
AUTO_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon", "mailer_daemon")
MAX_ATTACHMENTS = 10


@dataclass
class Parsed:
    message: EmailMessage
    message_id: str
    key: str
    sender: str
    sender_name: str
    subject: str
    text: str
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


def parse(raw: bytes) -> Parsed:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    mid = _header(msg, "Message-ID")[:300]
    ids = mailids.split(mid)
    key_source = ids[0] if ids else ""
    key = hashlib.sha256((("mid:" + key_source) if key_source else "raw:").encode() +
                         (b"" if key_source else raw)).hexdigest()
    name, addr = parseaddr(_header(msg, "From"))
    refs = mailids.split(_header(msg, "In-Reply-To")) + mailids.split(_header(msg, "References"))
    return Parsed(message=msg, message_id=mid, key=key, sender=addr.strip().lower()[:254], sender_name=name[:200],
                  subject=" ".join(_header(msg, "Subject").split())[:300], text=body_text(msg),
                  attachments=attachments(msg), references=refs)


def _header(msg, name: str) -> str:
    try:
        v = msg.get(name)
    except Exception:  # a malformed header is as good as none
        return ""
    return str(v or "").strip()


def body_text(msg) -> str:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        text = part.get_content()
    except Exception:
        return ""
    if not isinstance(text, str):
        return ""
    if part.get_content_subtype() == "html":
        text = strip_tags(re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text))
    text = text.replace("\r\n", "\n").replace("\x00", "")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def attachments(msg) -> list[tuple[str, bytes]]:
    out = []
    for part in msg.iter_attachments():
        if part.is_multipart():
            continue
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:
            data = b""
        out.append(((part.get_filename() or "attachment")[:200], data))
    return out


def without_quote(text: str) -> str:
    """A reply's own words: up to the quoted original ("On … wrote:", "> " lines, Outlook's header)."""
    kept = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(">") or re.match(r"^(On .{0,200} wrote:|在.{0,200}写道[:：]|-{2,}\s*Original Message\s*-{2,}|"
                                          r"-{2,}\s*原始邮件\s*-{2,}|From: .+|发件人[:：].+)$", s):
            break
        kept.append(line)
    return "\n".join(kept).strip() or text.strip()


def auto_reply_reason(p: Parsed) -> str | None:
    """Why this mail is an automatic one (RFC 3834 and the usual vendor headers), or None."""
    m = p.message
    auto = _header(m, "Auto-Submitted").lower()
    if auto and auto != "no":
        return "Auto-Submitted: " + auto[:40]
    for h in ("X-Autoreply", "X-Autorespond"):
        if _header(m, h):
            return h
    prec = _header(m, "Precedence").lower()
    if prec in ("bulk", "auto_reply", "junk", "list"):
        return "Precedence: " + prec
    local = p.sender.split("@", 1)[0]
    if not p.sender or local in AUTO_SENDERS:
        return "sender " + (p.sender or "(none)")
    if m.get_content_type() == "multipart/report":
        return "delivery report"
    return None


def loop_reason(p: Parsed, own_addresses: set[str]) -> str | None:
    m = p.message
    if p.message_id and mailids.is_ours(p.message_id):
        return "our own Message-ID"
    if mailids.LOOP_HEADER_VALUE in _header(m, "X-Loop").lower():
        return "X-Loop"
    if p.sender in own_addresses:
        return "sent from one of our mailboxes"
    return None


def code_in_subject(subject: str) -> str | None:
    m = CODE_IN_SUBJECT.search(subject or "")
    return m.group(1) if m else None


def recipients(p: Parsed) -> list[str]:
    return [a.lower() for _n, a in getaddresses([_header(p.message, h) for h in ("To", "Cc", "Delivered-To")]) if a]
