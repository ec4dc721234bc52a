"""Channel kinds. Each kind is a folder here (copy one to add another) whose package
exposes:

    KIND, MEDIUM, LABEL        identity; MEDIUM is what preferences name (sms, email...)
    FIELDS                     [(name, label, required, secret)] for the config form
    validate(config) -> dict   clean config or raise ValidationFailed naming the field
    send(channel, msg) -> str  deliver `msg` (a Delivery); returns a provider id or "".
                               Raises base.Permanent / base.Retryable.
"""

import importlib

from django.utils.translation import gettext as _

from closeloop.core.errors import FieldProblem, ValidationFailed

KINDS = ["email", "dingtalk", "wecom", "feishu", "sms_aliyun", "sms_tencent", "sms_twilio",
         "voice_aliyun", "voice_twilio", "webhook", "apprise_url"]

_modules: dict = {}


def kind_module(kind: str):
    if kind not in KINDS:
        raise ValidationFailed([FieldProblem("kind", _("Unknown channel kind %(k)s.") % {"k": kind}, "invalid")])
    if kind not in _modules:
        _modules[kind] = importlib.import_module(f"{__name__}.{kind}")
    return _modules[kind]


def all_kinds():
    return [kind_module(k) for k in KINDS]


def clean_channel(channel) -> None:
    """Validate a channel's configuration for its kind (called on every save)."""
    mod = kind_module(channel.kind)
    if not (channel.name or "").strip():
        raise ValidationFailed([FieldProblem("name", _("A name is required."), "required")])
    if not isinstance(channel.config, dict):
        raise ValidationFailed([FieldProblem("config", _("Must be an object."), "invalid")])
    channel.config = mod.validate(dict(channel.config))
    if not isinstance(channel.events, list) or not all(isinstance(e, str) for e in channel.events):
        raise ValidationFailed([FieldProblem("events", _("A list of event kinds."), "invalid")])
