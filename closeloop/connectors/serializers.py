"""API shapes. The secret is never returned: only whether one is stored."""


def connector(c) -> dict:
    return {"id": c.pk, "key": c.key, "name": c.name, "kind": c.kind, "enabled": c.enabled, "order": c.order,
            "ref_system": c.ref_system, "url_template": c.url_template, "link_template": c.link_template,
            "auth_header": c.auth_header, "auth_secret_set": bool(c.auth_secret), "fields": c.fields,
            "timeout_ms": c.timeout_ms, "updated_at": c.updated_at.isoformat()}


def outcome(o) -> dict:
    return {"system": o.key, "name": o.name, "status": o.status, "id": o.ident or None,
            "fields": [{"label": str(label), "value": value} for label, value in o.fields], "link": o.link or None,
            "message": o.message or None, "cached": o.cached}
