"""RFC 9457 problem details (`application/problem+json`)."""

import json

from django.http import HttpResponse

CONTENT_TYPE = "application/problem+json"


def problem_body(status: int, title: str, detail: str = "", *, code: str = "", errors: list | None = None,
                 **extra) -> dict:
    body = {"type": f"https://closeloop.dev/problems/{code or status}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(status: int, title: str, detail: str = "", **kw) -> HttpResponse:
    return HttpResponse(json.dumps(problem_body(status, title, detail, **kw), ensure_ascii=False),
                        status=status, content_type=CONTENT_TYPE)
