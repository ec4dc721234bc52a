"""Log records with the request id, as plain lines (default) or JSON (CLOSELOOP_LOG_FORMAT=json).

    {"time": "2026-12-07T00:00:01.123Z", "level": "WARNING", "logger": "closeloop.outbox.services",
     "message": "...", "request_id": "3f2a...", "exc": "Traceback ..."}
"""

import json
import logging
from datetime import UTC, datetime

from . import requestid


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (the id, or "") and `rid` (" [id]", or "") to every record."""

    def filter(self, record):
        rid = getattr(record, "request_id", None) or requestid.current()
        record.request_id = rid
        record.rid = f" [{rid}]" if rid else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        out = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
               .replace("+00:00", "Z"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        rid = getattr(record, "request_id", "") or requestid.current()
        if rid:
            out["request_id"] = rid
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)
