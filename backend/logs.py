"""Structured JSON logs, one object a line, carrying the request id of the request being served.

Personal data is masked in one place, `PersonalDataFilter`, which every handler carries: resident ID
numbers (and anything shaped like one) and mobile numbers are starred in the message and its
arguments, in every extra field (the access log's path and query, whatever a caller passes in
`extra=`, nested in dicts and lists too), in exception text and stack traces, whatever logged them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Standing alone, not inside a longer run of letters and digits (a request id, a hash, a token).
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z])((?:\+?86|0086)[- ]?)?(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])")  # +86 too

# What every record has; the rest are fields the caller added with `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def scrub(text: str) -> str:
    """Mask resident ID numbers and mobile numbers in free text."""
    return _PHONE.sub(r"\1\2****\3", _RESIDENT_ID.sub(r"\1**********\2", text))


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {_masked(k): _masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(_masked(v) for v in value)
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller added to the record with `extra=`."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_FIELDS}


class PersonalDataFilter(logging.Filter):
    """Masks personal data in every field of a record before any handler writes it (idempotent, so a
    record passing several handlers is masked once in effect)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        if (request_id := request_id_var.get()) and not hasattr(record, "request_id"):
            record.request_id = request_id  # a client may choose its own request id
        for key, value in extra_fields(record).items():
            setattr(record, key, _masked(value))
        return True


class JsonFormatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stdout; every handler, ours and any a library installed, masks personal data."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("granian.access", "uvicorn.access"):
        logging.getLogger(noisy).disabled = True
    loggers = [root, *(x for x in logging.root.manager.loggerDict.values() if isinstance(x, logging.Logger))]
    for each in loggers:
        for installed in each.handlers:
            if not any(isinstance(f, PersonalDataFilter) for f in installed.filters):
                installed.addFilter(PersonalDataFilter())
