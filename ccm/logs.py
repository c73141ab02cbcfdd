"""Log lines: JSON in production, each with its correlation id, no personal data.

`settings.LOGGING` puts two filters on the console handler:

- `ContextFilter` stamps every record with the correlation id of the request
  or task it belongs to (audit.context), so one action's lines, web and
  worker alike, can be found together. Lines about one dispatch carry its
  `dispatch_id` and `communication_id` as `extra=` fields.
- `RedactFilter` is a safety net, not the rule: the rule is that no log
  statement names an address, a phone number, a name or a data snapshot. The
  filter replaces whatever looks like an email address or a phone number in
  a message or a traceback (a mail server's "550 <x@y> unknown user" carried
  up in an exception) before any formatter sees it.

`JsonLineFormatter` writes one JSON object a line: time, level, logger,
message, correlation_id, the extra fields, and the traceback as `exc_info`.
Celery workers use the same configuration (`celery_logging_connect`).
"""

import logging
import logging.config
import os
import re
from datetime import UTC, datetime

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from audit.context import correlation_id_get

EMAIL_PATTERN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Nine digits or more, single spaces, hyphens or brackets between them: a
# phone number in any national or international notation. Not part of a
# word or a hyphenated id (a task's UUID), not a time ("2026-12-06 20:41"),
# not after a dot or a colon (decimals, "host:port (pid)").
PHONE_PATTERN = re.compile(
    r"(?<![\w.:])(?<!\w-)\+?\(?\d(?:[ ()-]{0,2}\d){8,}(?!\w|-\w|:\d)"
)
EMAIL_MASK, PHONE_MASK = "[email]", "[phone]"
# A query string (a search for a name) in a request line `"GET /p?q=… HTTP/1.1"`.
QUERY_PATTERN = re.compile(r"\?[^\s\"]*")

# Gunicorn's access log passes its atoms as the record's arguments; this one
# is the X-Correlation-ID response header (the Procfile's access log format).
GUNICORN_CORRELATION_ATOM = "{x-correlation-id}o"


def redact(text: str) -> str:
    """Return `text` with email addresses and phone numbers masked."""
    return PHONE_PATTERN.sub(PHONE_MASK, EMAIL_PATTERN.sub(EMAIL_MASK, text))


class ContextFilter(logging.Filter):
    """Give every record the correlation id of its request or task ("" if none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", ""):
            correlation_id = correlation_id_get()
            if not correlation_id:
                # Django logs a 4xx/5xx response after the middleware is done.
                request = getattr(record, "request", None)
                correlation_id = getattr(request, "correlation_id", "")
            if not correlation_id and isinstance(record.args, dict):
                correlation_id = str(record.args.get(GUNICORN_CORRELATION_ATOM, ""))
            record.correlation_id = "" if correlation_id == "-" else correlation_id
        return True


class RedactFilter(logging.Filter):
    """Mask email addresses and phone numbers in a record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = clean = record.getMessage()
        except (TypeError, ValueError):  # a bad format: let the handler report it
            return True
        if record.name == "django.server":
            # runserver's request line: the path without its query string.
            clean = QUERY_PATTERN.sub("", clean)
        clean = redact(clean)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = _PLAIN.formatException(record.exc_info)
            # Formatters fall back on exc_text: the redacted one.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_PLAIN = logging.Formatter()


class JsonLineFormatter(JsonFormatter):
    """One JSON object a line: time, level, logger, message, correlation_id, extras.

    Left out: Celery's `data` extra (a task's arguments and return value,
    repeated from the message) and Django's `request` extra (its text is the
    full path, query string and all).
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", "{asctime}{levelname}{name}{message}{correlation_id}")
        kwargs.setdefault("style", "{")
        kwargs.setdefault(
            "rename_fields",
            {"asctime": "time", "levelname": "level", "name": "logger"},
        )
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "data", "request"])
        super().__init__(*args, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt=None) -> str:  # noqa: N802
        """ISO 8601 in UTC, to the millisecond, whatever TIME_ZONE says."""
        moment = datetime.fromtimestamp(record.created, tz=UTC)
        return moment.isoformat(timespec="milliseconds")


def dispatch_fields(dispatch) -> dict:
    """Return the `extra=` fields of a line about one dispatch.

    Its id, and its communication's public id when the row was loaded with it
    (a log line never costs a query).
    """
    fields = {"dispatch_id": dispatch.pk}
    communication = dispatch._state.fields_cache.get("communication")
    if communication is not None:
        fields["communication_id"] = str(communication.public_id)
    return fields


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"
FORMATS = ("json", "text")


def logging_config(*, log_format: str, level: str, log_file: str = "") -> dict:
    """Return the LOGGING dict for `log_format` ("json" or "text") at `level`.

    With `log_file`, every line is also appended to that file, written and
    filtered alike (the test suite collects its processes' lines this way,
    to scan them for the demo customers' data: scripts/scan-logs).
    """
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}")
    handler = {"formatter": log_format, "filters": ["context", "redact"]}
    handlers = {"console": {"class": "logging.StreamHandler", **handler}}
    if log_file:
        handlers["file"] = {
            "class": "logging.FileHandler",
            "filename": log_file,
            "mode": "a",
            "encoding": "utf-8",
            "delay": True,
            **handler,
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "ccm.logs.ContextFilter"},
            "redact": {"()": "ccm.logs.RedactFilter"},
        },
        "formatters": {
            "json": {"()": "ccm.logs.JsonLineFormatter"},
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": handlers,
        "root": {"handlers": list(handlers), "level": level},
        "loggers": {
            # Django's own handlers (a console handler while DEBUG is on, runserver's
            # request lines) give way to this one, so every line is formatted
            # and filtered alike.
            "django": {"level": "INFO", "propagate": True},
            "django.server": {"level": "INFO", "propagate": True},
            # At DEBUG it would log every query with its parameters: addresses.
            "django.db.backends": {"level": "INFO"},
            # WeasyPrint logs every layout step at INFO.
            "weasyprint": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
        },
    }


def gunicorn_logconfig(logging_settings: dict) -> dict:
    """Return gunicorn's `logconfig_dict`: its loggers on the app's handler.

    Gunicorn adds its defaults' keys to this dict one level deep, so it
    names its two loggers itself; their own handlers are replaced.
    """
    handlers = logging_settings.get("root", {}).get("handlers", ["console"])
    loggers = {
        name: {"level": "INFO", "handlers": handlers, "propagate": False}
        for name in ("gunicorn.error", "gunicorn.access")
    }
    return {
        **logging_settings,
        "loggers": {**logging_settings.get("loggers", {}), **loggers},
    }


def _celery_setup_logging(loglevel=None, **kwargs) -> None:
    """Configure a Celery worker's or beat's logging as the web's (settings.LOGGING).

    Connected, this receiver stops Celery from installing its own handler and
    format. LOG_LEVEL, when set, wins over the command line's --loglevel.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel and not os.environ.get("LOG_LEVEL"):
        logging.getLogger().setLevel(loglevel)


def celery_logging_connect() -> None:
    """Make Celery processes log through settings.LOGGING (once, however often)."""
    from celery import signals

    signals.setup_logging.connect(
        _celery_setup_logging, weak=False, dispatch_uid="ccm.logs.setup_logging"
    )
