"""Log lines: JSON with a correlation id, addresses and phone numbers masked."""

import io
import json
import logging
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from audit.context import correlation
from ccm.logs import logging_config, redact
from tests.logs import json_handler, json_lines
from tests.processes import ROOT, child_database_url, wait_until
from tests.smtp import free_port


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
        ("tel. 0501234567", "tel. [phone]"),
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
        "Listening at: http://127.0.0.1:42451 (4858)",
        "took 0.123456789012 s",
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


def test_django_and_runserver_lines_go_through_the_one_filtered_handler():
    for name in ("django", "django.server"):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate, name
    configured = [
        {type(f).__name__ for f in handler.filters}
        for handler in logging.getLogger().handlers
    ]
    assert {"ContextFilter", "RedactFilter"} in configured


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


@pytest.mark.django_db(transaction=True)
def test_gunicorn_started_as_the_procfile_says_writes_json_lines(tmp_path):
    """Real gunicorn, from the Procfile's web line: its lines are the app's JSON."""
    [command] = [
        line.removeprefix("web: ")
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web: ")
    ]
    port, log = free_port(), tmp_path / "web.log"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "LOG_FORMAT": "json",
        "DATABASE_URL": child_database_url(),
    }
    url = f"http://127.0.0.1:{port}/healthz/live?email=sara.reed@example.com"
    request = urllib.request.Request(url, headers={"X-Correlation-ID": "corr-web-1"})

    def answered() -> bool:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    with open(log, "wb") as out:
        web = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            answered,
            timeout=90,
            what="gunicorn to answer",
            detail=lambda: log.read_text(errors="replace")[-3000:],
        )
    finally:
        web.terminate()
        web.wait(timeout=60)

    text = log.read_text()
    records = [json.loads(line) for line in text.splitlines() if line]
    # A probe that timed out while the worker booted is answered later too.
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    assert access and all(r["correlation_id"] == "corr-web-1" for r in access)
    assert all('"GET /healthz/live" 200' in r["message"] for r in access)
    assert any(r["logger"] == "gunicorn.error" for r in records)
    assert "sara" not in text
