"""Log lines: JSON with a correlation id, addresses and phone numbers masked."""

import io
import json
import logging

import pytest

from audit.context import correlation
from ccm.logs import logging_config, redact
from tests.logs import json_handler, json_lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "550 <sara.reed+bills@mail.example.com> unknown user",
            "550 <[email]> unknown user",
        ),
        (
            "recipient refused: {'a@b.example.org': (550, b'no')}",
            "recipient refused: {'[email]': (550, b'no')}",
        ),
        ("SMS to +966501234567 rejected", "SMS to [phone] rejected"),
        ("SMS to +966 50 123 4567.", "SMS to [phone]."),
        ("call 0501234567 or (050) 123-4567", "call [phone] or [phone]"),
        ("number 966501234567: invalid", "number [phone]: invalid"),
    ],
)
def test_addresses_and_phone_numbers_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "batch 1234 failed at 2026-12-06 20:41:02",
        "Task channels.outbox_pump[12345678-1234-5678-9abc-123456789012] received",
        "Task x succeeded in 0.123456789s: {'sent': 12345}",
        "dispatch 98765432 attempt 2: sent",
        "policy MT-204518 for 1250.50 SAR",
        "GET /api/v1/communications/3f2b1c00-1234-4bcd-8123-123456789012/ 200",
    ],
)
def test_times_ids_and_amounts_are_left_alone(text):
    assert redact(text) == text


def _line(logger: logging.Logger, *args, **kwargs) -> dict:
    stream = io.StringIO()
    logger.addHandler(json_handler(stream))
    logger.propagate = False
    try:
        logger.warning(*args, **kwargs)
    finally:
        logger.handlers.clear()
        logger.propagate = True
    [line] = stream.getvalue().splitlines()
    return json.loads(line)


def test_a_line_is_one_json_object_with_time_level_logger_and_correlation_id():
    logger = logging.getLogger("tests.logs.shape")
    with correlation("corr-shape-1"):
        record = _line(logger, "dispatch %s sent", 7, extra={"dispatch_id": 7})

    assert record["message"] == "dispatch 7 sent"
    assert record["level"] == "WARNING" and record["logger"] == "tests.logs.shape"
    assert record["correlation_id"] == "corr-shape-1"
    assert record["dispatch_id"] == 7
    assert record["time"].endswith("+00:00")
    assert list(record)[:5] == ["time", "level", "logger", "message", "correlation_id"]


def test_a_line_outside_any_request_has_an_empty_correlation_id():
    record = _line(logging.getLogger("tests.logs.none"), "beat tick")
    assert record["correlation_id"] == ""


def test_an_exception_carrying_an_address_is_masked_in_the_traceback():
    logger = logging.getLogger("tests.logs.exc")
    try:
        raise ValueError("550 <fatimah@example.com> unknown user; sms +966501234567")
    except ValueError:
        record = _line(logger, "send failed", exc_info=True)

    assert "ValueError: 550 <[email]> unknown user; sms [phone]" in record["exc_info"]
    assert "fatimah" not in json.dumps(record) and "966501234567" not in json.dumps(
        record
    )


def test_celery_task_arguments_and_django_requests_stay_out_of_the_line():
    logger = logging.getLogger("tests.logs.extras")
    record = _line(
        logger,
        "Task %(name)s received",
        {"name": "t"},
        extra={"data": {"args": "('x@example.com',)"}, "request": "GET /?q=Sara"},
    )
    assert "data" not in record and "request" not in record


def test_runserver_request_lines_drop_the_query_string():
    record = _line(
        logging.getLogger("django.server"),
        '"%s" %s %s',
        "GET /console/customers/?q=Sara+Reed HTTP/1.1",
        200,
        512,
    )
    assert record["message"] == '"GET /console/customers/ HTTP/1.1" 200 512'


def test_gunicorn_access_lines_take_the_correlation_id_of_the_response():
    record = _line(
        logging.getLogger("gunicorn.access"),
        '%(h)s "%(m)s %(U)s" %(s)s %({x-correlation-id}o)s',
        {
            "h": "10.0.0.1",
            "m": "GET",
            "U": "/healthz",
            "s": "200",
            "{x-correlation-id}o": "corr-gunicorn-1",
        },
    )
    assert record["correlation_id"] == "corr-gunicorn-1"
    assert record["message"] == '10.0.0.1 "GET /healthz" 200 corr-gunicorn-1'


def test_log_format_is_json_or_text():
    assert (
        logging_config(log_format="json", level="INFO")["handlers"]["console"][
            "formatter"
        ]
        == "json"
    )
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config(log_format="xml", level="INFO")


@pytest.mark.django_db
def test_a_request_line_carries_the_request_correlation_id(client):
    with json_lines() as lines:
        response = client.get(
            "/no-such-page/?email=sara@example.com",
            HTTP_X_CORRELATION_ID="corr-request-1",
        )

    assert response.status_code == 404
    assert response["X-Correlation-ID"] == "corr-request-1"
    [line] = [r for r in lines.records() if r["logger"] == "django.request"]
    assert line["correlation_id"] == "corr-request-1"
    assert line["message"] == "Not Found: /no-such-page/"
    assert "sara" not in "\n".join(lines)
