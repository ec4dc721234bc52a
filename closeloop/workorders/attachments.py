"""Attachments: a file on a work order's timeline. The type is read from the file's first
bytes (never trusted from the name or the client), the size capped, the content hashed and
stored under a generated name; a customer's uploads are always public.
"""

import hashlib
import mimetypes

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, ValidationFailed

from . import timeline
from .models import Attachment, TimelineEvent, WorkOrder


def _sniff(head: bytes) -> str | None:
    """Content type from the file's first bytes, for the types we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    return None


def do_add_attachment(*, actor: User, wo: WorkOrder, upload: UploadedFile, public: bool = False) -> Attachment:
    problems: list[FieldProblem] = []
    name = (upload.name or "file").replace("\\", "/").rsplit("/", 1)[-1][:200]
    if upload.size is None or upload.size == 0:
        problems.append(FieldProblem("file", _("The file is empty.")))
    elif upload.size > settings.MAX_UPLOAD_BYTES:
        problems.append(FieldProblem("file", _("At most %(n)d MB.") % {"n": settings.MAX_UPLOAD_BYTES // 2**20},
                                     "too_large"))
    if problems:
        raise ValidationFailed(problems)
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    sniffed = _sniff(head)
    guessed = mimetypes.guess_type(name)[0] or ""
    if sniffed is None and guessed in ("text/plain", "text/csv"):
        sniffed = guessed
    if sniffed == "application/zip" and name.lower().endswith(".xlsx"):
        sniffed = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    if sniffed not in settings.ALLOWED_UPLOAD_TYPES:
        raise ValidationFailed(FieldProblem("file", _("This kind of file is not accepted (images, PDF, text, CSV, "
                                                      "Excel or ZIP)."), "type"))
    if actor.role == Role.CUSTOMER:
        public = True
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    with transaction.atomic():
        t = now()
        att = Attachment(work_order=wo, uploaded_by=actor, original_name=name, content_type=sniffed,
                         extension=settings.ALLOWED_UPLOAD_TYPES[sniffed], size=upload.size,
                         sha256=digest.hexdigest(), public=public, created_at=t)
        att.file.save("ignored", upload, save=False)
        try:
            att.save()
            timeline.append_event(wo, TimelineEvent.Kind.ATTACHMENT, actor=actor, at=t, public=public, data={
                "attachment_id": att.pk, "name": name, "size": att.size, "content_type": sniffed})
        except Exception:
            att.file.delete(save=False)
            raise
    return att
