"""A full send logs JSON lines with correlation ids and none of the customers' data.

Real components: the demo customers and templates, the trigger service, a
Celery worker started as a process with LOG_FORMAT=json at DEBUG, the test's
database and broker, an SMTP server on loopback (refusing one customer's
mailbox, so an error quoting an address is on the way), the SMS file backend
and stored letters.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from audit.context import correlation
from channels_app import outbox
from channels_app.demo import demo_seed
from channels_app.dispatching import TriggerRefused, communication_trigger
from channels_app.models import Dispatch
from channels_app.tasks import outbox_pump
from customers.models import Customer
from customers.services import customer_upsert
from tests.factories import user_build
from tests.logs import json_lines
from tests.processes import child_database_url, wait_until

ROOT = Path(__file__).resolve().parents[2]
Status = Dispatch.Status
SEND_SECONDS = 180


def _trigger_all(customers, templates) -> None:
    """Trigger every demo template on every channel it has, for every customer."""
    for customer in customers:
        for code, template in templates.items():
            data = dict(template.sample_data)
            if isinstance(data.get("customer"), dict):
                data["customer"] = {**data["customer"], "name": customer.name}
            try:
                communication_trigger(
                    template_code=code,
                    customer=customer,
                    data=data,
                    channels=template.channels,
                    requester_label="log test",
                    source_system="core-banking",
                    source_reference=f"LOG-{customer.pk}-{code}",
                )
            except TriggerRefused:
                continue


def _personal_data(customers) -> set[str]:
    """Every customer's email, phone (as given and as digits), name and address."""
    found = set()
    for customer in customers:
        found |= {customer.email, customer.phone, customer.phone.lstrip("+")}
        found |= {customer.name, *customer.name.split()}
        address = customer.postal_address
        found |= {address, address.replace("\n", ", "), address.splitlines()[0]}
    return {value for value in found if value and len(value) > 2}


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _worker_start(log: Path, smtp_port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CCM_VAR_DIR": str(settings.VAR_DIR),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
    }
    if os.geteuid() == 0:
        # A container running tests as root: Celery warns before logging is set.
        env["PYTHONWARNINGS"] = "ignore:You're running the worker with superuser"
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                # --quiet: no startup banner, the one line that is not JSON.
                *(sys.executable, "-m", "celery", "-A", "ccm", "--quiet", "worker"),
                "--pool=solo",
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
                f"--hostname=logs-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.django_db(transaction=True)
def test_a_full_send_logs_json_lines_without_the_customers_data(
    tmp_path, smtp_sink, demo_templates
):
    operator = user_build(username="log-operator", is_superuser=True)
    with json_lines() as web, correlation("corr-trigger-1"):
        demo_seed(operator=operator, customers=8, dispatches=0)
        customers = list(Customer.objects.filter(external_id__startswith="CUST-"))
        _trigger_all(customers, demo_templates)
    # One mailbox does not exist: the refusal quotes the address.
    smtp_sink.unknown_recipients = {customers[0].email}
    started = timezone.now()
    due = Dispatch.objects.filter(status=Status.QUEUED, due_at__lte=started)
    assert set(due.values_list("channel", flat=True)) == {"email", "sms", "letter"}

    # Pumps other tests queued in the broker are not this send's: drop them.
    from ccm.celery import app

    app.control.purge()
    log = tmp_path / "worker.log"
    worker = _worker_start(log, settings.EMAIL_PORT)
    try:
        with correlation("corr-send-1"):
            outbox_pump.apply_async()
        wait_until(
            lambda: (
                not Dispatch.objects.filter(
                    status__in=[Status.QUEUED, Status.SENDING], due_at__lte=started
                ).exists()
            ),
            timeout=SEND_SECONDS,
            what="the worker to send every due dispatch",
            detail=lambda: log.read_text(errors="replace")[-3000:],
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert worker.returncode == 0, log.read_text(errors="replace")[-3000:]

    sent = Dispatch.objects.filter(status=Status.SENT)
    assert set(sent.values_list("channel", flat=True)) == {"email", "sms", "letter"}
    refused = list(
        Dispatch.objects.filter(status=Status.FAILED, address=customers[0].email)
    )
    # The refusal is kept in the database, not logged.
    assert refused and all(customers[0].email in d.error for d in refused)
    emailed = {key for key in smtp_sink.dispatch_counts() if key}
    assert emailed == {
        str(pk) for pk in sent.filter(channel="email").values_list("pk", flat=True)
    }

    worker_lines = [line for line in log.read_text().splitlines() if line]
    lines = [*web, *worker_lines]
    # Celery prints its shutdown notice itself, outside logging.
    plain = [line for line in lines if not _is_json(line)]
    assert plain == ["worker: Warm shutdown (MainProcess)"], plain[:5]
    lines = [line for line in lines if line not in plain]
    records = [json.loads(line) for line in lines]
    assert all("correlation_id" in record for record in records)
    # The product's lines, not those of the test's SMTP server's thread.
    product = [r for r in web.records() if r["logger"] != "mail.log"]
    odd = [r for r in product if r["correlation_id"] != "corr-trigger-1"]
    assert not odd, odd[:5]

    # One line per attempt, with its dispatch, under the id of the pump's caller.
    attempts = {
        r["dispatch_id"]: r
        for r in records
        if r["logger"] == "channels_app.outbox" and "dispatch_id" in r
    }
    assert set(attempts) == set(
        Dispatch.objects.filter(attempt_count__gt=0).values_list("id", flat=True)
    )
    for dispatch in sent.select_related("communication"):
        line = attempts[dispatch.pk]
        # The trigger kicked a pump under its id; ours is the backstop.
        assert line["correlation_id"] in {"corr-trigger-1", "corr-send-1"}
        assert line["communication_id"] == str(dispatch.communication.public_id)
        assert line["message"].endswith(": sent")
    for dispatch in refused:
        message = attempts[dispatch.pk]["message"]
        assert message.endswith(": failed (PermanentError)")
    assert any(
        r["logger"] == "celery.app.trace" and "succeeded" in r["message"]
        for r in records
    )

    personal = _personal_data(customers)
    for line, record in zip(lines, records, strict=True):
        text = line + json.dumps(record, ensure_ascii=False)
        leaked = [value for value in personal if value in text]
        assert not leaked, f"{leaked} in {line}"


@pytest.mark.django_db
def test_a_dispatch_line_carries_its_dispatch_and_the_pump_correlation_id(
    smtp_sink, demo_templates
):
    customer, _ = customer_upsert(
        external_id="C-LOG-1",
        name="Sara Reed",
        email="sara.reed@example.com",
        language="en",
    )
    template = demo_templates["payment-reminder"]
    communication = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=template.sample_data,
        channels=["email"],
        requester_label="log test",
    )
    [dispatch] = communication.dispatches.all()

    with json_lines() as lines, correlation("corr-pump-1"):
        outbox.outbox_pump(seconds=30)

    [line] = [r for r in lines.records() if r.get("dispatch_id") == dispatch.pk]
    assert line["correlation_id"] == "corr-pump-1"
    assert line["communication_id"] == str(communication.public_id)
    assert line["message"] == f"dispatch {dispatch.pk} attempt 1: sent"
    assert "sara" not in "\n".join(lines).lower()
    assert smtp_sink.received() == 1
