"""Structured JSON logs: one object a line, with the invocation's request id and cold-start flag."""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

LOGGER_NAME = "lambda_src"

# Only these attributes of a record are copied into the JSON line. Anything else passed in
# `extra=` is dropped, so a value that was never meant for the log cannot leak into it.
STRUCTURED_FIELDS = (
    "event",
    "request_id",
    "cold_start",
    "attempt",
    "latency_ms",
    "sqlstate",
    "error_type",
    "delay_ms",
    "breaker_state",
    "message_id",
    "batch_size",
    "failed_count",
    "status_code",
    "route",
    "changed",
    "role",
    "host",
    "port",
    "user",
    "auth_mode",
    "endpoint_kind",
)

# At DEBUG, botocore logs request and response bodies (a GetSecretValue answer holds the
# secret string, a PutSecretValue request the new password) and the canonical request and
# signature of a presigned IAM auth token, which together are the token. Lambda sets the root
# logger to the function's application log level, so DEBUG there would send secrets to
# CloudWatch Logs; these loggers are therefore never allowed below INFO.
SDK_LOGGERS = ("botocore", "boto3")
SDK_MINIMUM_LEVEL = logging.INFO

_invocation: ContextVar[dict[str, object] | None] = ContextVar("invocation", default=None)

# One encoder for every line: json.dumps with options builds a new one per call.
_JSON_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object holding the whitelisted structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        attributes = record.__dict__
        for field in STRUCTURED_FIELDS:
            value = attributes.get(field)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _JSON_ENCODER.encode(line)


def configure_logging(level: str = "INFO") -> logging.Logger:
    """Send this package's records to stdout as JSON, at `level` (a name such as "INFO").

    Meant to run once per execution environment; calling it again changes nothing that is
    already set. In particular the level is set only when it differs: every setLevel empties
    the logging module's cache of enabled levels, which each later record then rebuilds.
    """
    for name in SDK_LOGGERS:
        sdk_logger = logging.getLogger(name)
        if sdk_logger.level < SDK_MINIMUM_LEVEL:
            sdk_logger.setLevel(SDK_MINIMUM_LEVEL)
    logger = logging.getLogger(LOGGER_NAME)
    numeric_level = logging.getLevelNamesMapping()[level]
    if logger.level != numeric_level:
        logger.setLevel(numeric_level)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        # The Lambda runtime puts its own plain-text handler on the root logger; without this
        # every line would be written twice, once not as JSON.
        logger.propagate = False
    return logger


def bind_invocation(request_id: str | None, cold_start: bool) -> None:
    """Remember the invocation's identity for every record logged until the next call."""
    _invocation.set({"request_id": request_id, "cold_start": cold_start})


def current_invocation() -> dict[str, object]:
    """The fields `bind_invocation` set, or an empty dict outside an invocation."""
    return dict(_invocation.get() or {})


def log_event(
    logger: logging.Logger,
    level: int,
    event: str,
    message: str,
    *,
    exc_info: bool = False,
    **fields: object,
) -> None:
    """Log `message` with a stable `event` name, the invocation's identity and `fields`.

    Callers pass only values that are safe to log: names, counts, codes, timings. Never a
    password, token, secret value or connection string.
    """
    if not logger.isEnabledFor(level):
        return
    extra = {**(_invocation.get() or {}), "event": event, **fields}
    # The record is made here rather than through logger.log, which would walk the stack on
    # every call to find the caller's file and line: always this function, and not logged.
    record = logger.makeRecord(
        logger.name,
        level,
        "(unknown file)",
        0,
        message,
        (),
        sys.exc_info() if exc_info else None,
        extra=extra,
    )
    logger.handle(record)
