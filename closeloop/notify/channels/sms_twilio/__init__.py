"""Twilio SMS: POST {endpoint}/2010-04-01/Accounts/{sid}/Messages.json, HTTP basic auth
(account SID, auth token), form fields To, From, Body."""

from django.utils.translation import gettext_lazy

from ..base import Permanent, Retryable, check_url, done, request, require

KIND = "sms_twilio"
MEDIUM = "sms"
LABEL = gettext_lazy("SMS: Twilio")
FIELDS = [("account_sid", gettext_lazy("account SID"), True, False),
          ("auth_token", gettext_lazy("auth token"), True, True),
          ("from_number", gettext_lazy("from number"), True, False),
          ("endpoint", gettext_lazy("endpoint"), False, False)]
ENDPOINT = "https://api.twilio.com"
#: Twilio error codes that mean the number is wrong.
ADDRESS_CODES = {21211, 21214, 21217, 21401, 21407, 21408, 21610, 21614}


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    check_url(problems, "endpoint", clean.get("endpoint"))
    return done(problems, clean)


def post(config: dict, resource: str, form: dict) -> dict:
    base = (config.get("endpoint") or ENDPOINT).rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{config['account_sid']}/{resource}"
    r = request("POST", url, data=form, auth=(config["account_sid"], config["auth_token"]), check=False)
    data = r.json() or {}
    if 200 <= r.status_code < 300:
        return data
    message = f"Twilio {r.status_code} {data.get('code', '')}: {data.get('message', r.text[:200])}"
    if r.status_code in (408, 429) or r.status_code >= 500:
        from ..base import retry_after_seconds

        raise Retryable(message, retry_after=retry_after_seconds(r.headers.get("retry-after")))
    raise Permanent(message, address=data.get("code") in ADDRESS_CODES)


def e164(phone: str) -> str:
    return phone if phone.startswith("+") else "+86" + phone


def send(channel, msg) -> str:
    if not msg.address:
        raise Permanent("No phone number.", address=True)
    data = post(channel.config, "Messages.json", {"To": e164(msg.address), "From": channel.config["from_number"],
                                                  "Body": msg.body})
    return data.get("sid", "")
