"""Logging set-up: human text or one JSON object per line (for log collectors)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from .settings import LogFormat


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: LogFormat, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request-level chatter of the HTTP stacks is never useful at INFO and, at DEBUG, httpx
    # would log request lines; our identity client logs what matters without credentials.
    for noisy in ("httpx", "httpcore", "urllib3", "kubernetes.client.rest"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # kopf.objects logs "Handler ... succeeded." at INFO for every watch event handled (every
    # create is 5-6 of them, and formatting them costs CPU); the reconcile loop logs and posts
    # events for what happened. At DEBUG, kopf's per-object lines are all kept.
    kopf_objects = logging.getLogger("kopf.objects")
    kopf_objects.setLevel(logging.WARNING if root.level >= logging.INFO else logging.NOTSET)
