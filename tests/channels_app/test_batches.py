"""Batch runs send every row once, record refusals, show progress and resume."""

import contextlib
import signal
import threading

import pytest
from django.db import connections

from audit.models import AuditEvent
from audit.sealing import event_readable
from channels_app.batch_rows import BatchRefused, batch_rows_from_csv
from channels_app.batches import (
    batch_create,
    batch_resume,
    batch_row_problems,
    batch_run,
    batches_resume,
)
from channels_app.models import Batch, BatchRow, Communication, Incident
from customers.models import Customer
from customers.services import customer_upsert
from tests.factories import user_build
from tests.signin import browser_sign_in

pytestmark = pytest.mark.django_db

DATA = {
    "customer": {"name": "Reem"},
    "policy_number": "MT-204518",
    "amount": 1250.5,
    "currency": "SAR",
    "due_date": "2026-12-15",
}

HEADER = "external_id,name,email,phone,language,customer.name,policy_number,"
HEADER += "amount,currency,due_date\n"


@pytest.fixture
def templates(settings, tmp_path, demo_templates):
    settings.MEDIA_ROOT = tmp_path / "media"
    return demo_templates


@pytest.fixture
def operator():
    return user_build(username="op")


def _row(n: int, **customer) -> dict:
    return {
        "customer": {
            "external_id": f"B-{n}",
            "name": f"Customer {n}",
            "email": f"b{n}@example.com",
            **customer,
        },
        "data": {**DATA, "customer": {"name": f"Customer {n}"}},
        "source_reference": f"INV-{n}",
    }


def _create(operator, rows, **fields) -> Batch:
    return batch_create(
        template_code=fields.pop("template_code", "payment-reminder"),
        channels=fields.pop("channels", "auto"),
        rows=rows,
        requested_by=operator,
        requester_label=operator.username,
        source_system="tests",
        **fields,
    )


# --- CSV -------------------------------------------------------------------


def _csv(text: str) -> bytes:
    return text.encode("utf-8")


def test_csv_rows_carry_customer_data_and_nested_columns():
    content = (
        "\ufeffexternal_id,name,email,account.number,account.type,amount,"
        "correlation_key\n"
        'C-1,فاطمة الحربي,f@example.com,AC-1,"savings, gold",12.50,CASE-1\n'
        "C-2,,,AC-2,current,7,\n"
    )
    schema = {
        "type": "object",
        "properties": {"amount": {"type": "number"}},
    }

    rows = batch_rows_from_csv(_csv(content), schema=schema)

    assert rows[0] == {
        "customer": {
            "external_id": "C-1",
            "name": "فاطمة الحربي",
            "email": "f@example.com",
        },
        "data": {
            "account": {"number": "AC-1", "type": "savings, gold"},
            "amount": 12.5,
        },
        "correlation_key": "CASE-1",
        "line": 2,
    }
    # Empty cells are left out: the customer keeps what is stored.
    assert rows[1]["customer"] == {"external_id": "C-2"}
    assert rows[1]["data"]["amount"] == 7


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "line 1: the file is empty"),
        (b"name,email\nA,a@example.com\n", "line 1: the column external_id is missing"),
        (b"external_id,name,name\nC-1,A,B\n", "column name: the column appears"),
        (b"external_id,,x\nC-1,A,B\n", "line 1, column 2: a column has no name"),
        (b"external_id,name\nC-1,A\nC-2,B,extra\n", "line 3: 3 values for 2 columns"),
        (b"external_id,name\nC-1,A\nC-2,\xff\xfe\n", "line 3: the file is not UTF-8"),
    ],
)
def test_malformed_csv_is_refused_naming_line_and_column(content, fragment):
    with pytest.raises(BatchRefused) as refused:
        batch_rows_from_csv(content)

    assert any(fragment in message for message in refused.value.messages()), (
        refused.value.messages()
    )


def test_a_column_the_template_requires_is_missing_from_the_header():
    schema = {
        "type": "object",
        "required": ["customer", "amount"],
        "properties": {
            "customer": {"type": "object", "required": ["name"]},
            "amount": {"type": "number"},
        },
    }

    with pytest.raises(BatchRefused) as refused:
        batch_rows_from_csv(b"external_id,amount\nC-1,5\n", schema=schema)

    assert refused.value.messages() == [
        "line 1: no column customer.name, which the template requires"
    ]


def test_semicolon_separated_files_are_read():
    rows = batch_rows_from_csv(b"external_id;branch\nC-1;Olaya\n")

    assert rows[0]["data"] == {"branch": "Olaya"}


def test_bad_rows_refuse_the_whole_file_naming_line_and_column(templates, operator):
    content = _csv(
        HEADER
        + "C-1,Reem,reem@example.com,0501234567,en,Reem,MT-204518,10,SAR,2026-12-15\n"
        + "C-2,Sami,not-an-email,12,fr,Sami,XX,ten,SAR,2026-12-15\n"
    )
    schema = templates["payment-reminder"].data_schema

    rows = batch_rows_from_csv(content, schema=schema)
    with pytest.raises(BatchRefused) as refused:
        _create(operator, rows, file_name="reminders.csv")

    messages = refused.value.messages()
    assert "line 3, column email: 'not-an-email' is not an email address" in messages
    assert any(m.startswith("line 3, column phone: '12'") for m in messages)
    assert "line 3, column language: 'fr' is not one of en, ar" in messages
    assert 'line 3, column amount: "ten" must be a number' in messages
    assert any(m.startswith("line 3, column policy_number:") for m in messages)
    assert not any("line 2" in m for m in messages)
    assert not Batch.objects.exists() and not BatchRow.objects.exists()


# --- Creating ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "rows", "key", "fragment"),
    [
        ({"template_code": "nope"}, [_row(1)], "template", "unknown template"),
        ({"channels": ["letter"]}, [_row(1)], "channels", "does not support Letter"),
        ({"channels": []}, [_row(1)], "channels", "auto"),
        ({}, [], "rows", "at least one row"),
    ],
)
def test_a_bad_batch_is_refused_before_anything_is_stored(
    templates, operator, fields, rows, key, fragment
):
    with pytest.raises(BatchRefused) as refused:
        _create(operator, rows, **fields)

    assert fragment in " ".join(map(str, refused.value.problems[key]))
    assert not Batch.objects.exists()


def test_too_many_rows_are_refused(templates, operator, settings):
    settings.BATCH_MAX_ROWS = 3

    with pytest.raises(BatchRefused) as refused:
        _create(operator, [_row(n) for n in range(4)])

    (problem,) = refused.value.problems["rows"]
    assert problem.code == "batch.rows.too_many"
    assert "4 rows, more than 3" in str(problem)
    assert "4 rows, more than 3" in refused.value.messages()[0]


def test_a_batch_is_stored_whole_and_audited(templates, operator):
    batch = _create(operator, [_row(n) for n in range(3)])

    assert batch.status == Batch.Status.PENDING
    assert batch.total == 3
    assert list(batch.rows.values_list("number", flat=True)) == [1, 2, 3]
    event = AuditEvent.objects.get(action="channels.batch.created")
    assert event.after["rows"] == 3 and event.actor == operator


# --- Running -----------------------------------------------------------------


def _mixed_rows() -> list[dict]:
    """Five good rows, one unknown customer, one customer without a phone."""
    rows = [_row(n, phone="0501234567") for n in range(5)]
    rows.insert(2, {"customer": {"external_id": "NOBODY"}, "data": DATA})
    rows.insert(4, _row(99))  # no phone for an SMS-only batch
    return rows


def test_a_run_sends_every_row_once_and_records_refusals(templates, operator):
    batch = _create(operator, _mixed_rows(), channels=["sms"])

    batch = batch_run(batch=batch)

    assert batch.status == Batch.Status.DONE
    assert (batch.total, batch.processed, batch.accepted, batch.refused) == (
        7,
        7,
        5,
        2,
    )
    assert batch.finished is not None
    communications = Communication.objects.filter(batch=batch)
    assert communications.count() == 5
    assert {c.dispatches.get().channel for c in communications} == {"sms"}
    assert set(communications.values_list("source_reference", flat=True)) == {
        f"INV-{n}" for n in range(5)
    }
    # Two refused of seven: a batch with many refused rows is an incident.
    incident = Incident.objects.get()
    assert (incident.kind, incident.batch, incident.occurrences) == (
        "batch_refusals",
        batch,
        2,
    )
    problems = batch_row_problems(batch=batch)
    assert [p["row"] for p in problems] == [3, 5]
    assert "unknown customer 'NOBODY'" in str(problems[0]["problems"]["customer"][0])
    assert "no usable SMS contact point" in str(problems[1]["problems"]["customer"][0])
    assert problems[1]["problems"]["customer"][0].code == (
        "trigger.customer.no_contact_point"
    )
    # The customers were created from the rows.
    assert Customer.objects.get(external_id="B-0").phone == "+966501234567"
    finished = AuditEvent.objects.get(action="channels.batch.finished")
    assert finished.after == {"total": 7, "processed": 7, "accepted": 5, "refused": 2}


def test_an_interrupted_run_resumes_with_only_the_unprocessed_rows(templates, operator):
    batch = _create(operator, [_row(n) for n in range(7)])

    batch = batch_run(batch=batch, chunk_rows=3, max_chunks=1)

    assert batch.status == Batch.Status.RUNNING
    assert (batch.processed, batch.accepted) == (3, 3)
    first = set(Communication.objects.values_list("pk", flat=True))

    batch = batch_run(batch=batch, chunk_rows=3)

    assert batch.status == Batch.Status.DONE
    assert (batch.processed, batch.accepted, batch.refused) == (7, 7, 0)
    assert Communication.objects.count() == 7
    assert first <= set(Communication.objects.values_list("pk", flat=True))
    assert not batch.rows.filter(communication__isnull=True).exists()
    # Running a finished batch again changes nothing.
    batch_run(batch=batch)
    assert Communication.objects.count() == 7


def test_customers_are_updated_from_rows_and_arabic_survives(templates, operator):
    customer_upsert(external_id="B-1", name="Old name", email="old@example.com")
    row = _row(1, name="ريم العتيبي", language="ar")
    row["data"]["customer"]["name"] = "ريم العتيبي"
    batch = _create(operator, [row])

    batch_run(batch=batch)

    customer = Customer.objects.get(external_id="B-1")
    assert (customer.name, customer.language) == ("ريم العتيبي", "ar")
    communication = Communication.objects.get(batch=batch)
    assert communication.data["customer"]["name"] == "ريم العتيبي"
    assert "ريم العتيبي" in communication.dispatches.get().body_html


def test_new_customers_of_a_chunk_are_created_with_history_and_audit_at_a_fixed_cost(
    templates, operator
):
    """A chunk's new customers cost the same statements whether 3 or 30."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements_for(count: int, prefix: str) -> int:
        rows = [_row(n, external_id=f"{prefix}-{n}") for n in range(count)]
        batch = _create(operator, rows, channels=["email"])
        with CaptureQueriesContext(connection) as captured:
            batch = batch_run(batch=batch)
        assert (batch.accepted, batch.refused) == (count, 0)
        return len(captured)

    statements_for(1, "warm")  # first run loads caches (content types, blocks)
    assert statements_for(30, "thirty") == statements_for(3, "three")
    customer = Customer.objects.get(external_id="thirty-7")
    assert (customer.name, customer.email) == ("Customer 7", "b7@example.com")
    assert customer.history.get().history_change_reason == "created"
    created = AuditEvent.objects.for_subject(customer).get()
    assert created.action == "channels.customer.created"
    # Sealed under the customer's key in the chain; read back as a reader does.
    assert event_readable(created)["after"]["email"] == "b7@example.com"
    assert created.actor == operator


def test_a_row_repeating_a_new_customer_updates_what_the_first_row_created(
    templates, operator
):
    first = _row(1)
    second = _row(1, name="Second name")
    batch = _create(operator, [first, second], channels=["email"])

    batch = batch_run(batch=batch)

    assert (batch.accepted, batch.refused) == (2, 0)
    customer = Customer.objects.get(external_id="B-1")
    assert customer.name == "Second name"
    assert [e.action for e in AuditEvent.objects.for_subject(customer)] == [
        "channels.customer.created",
        "channels.customer.updated",
    ]


def test_a_customer_created_meanwhile_is_updated_not_refused(templates, operator):
    from customers.services import customers_create_bulk

    existing, _ = customer_upsert(
        external_id="B-2", name="Meanwhile", email="m@example.com"
    )

    results = customers_create_bulk(
        customers=[
            ("B-1", {"name": "One", "email": "one@example.com"}),
            ("B-2", {"name": "Two", "email": "two@example.com"}),
            ("B-3", {"name": "Three", "email": "not an address"}),
        ],
        actor=operator,
    )

    assert results[0].name == "One"
    assert (results[1].pk, results[1].name) == (existing.pk, "Two")
    assert "email" in results[2].message_dict
    assert not Customer.objects.filter(external_id="B-3").exists()


def test_an_unexpected_error_fails_the_batch_and_a_resume_finishes_it(
    templates, operator, monkeypatch
):
    from channels_app import batches

    batch = _create(operator, [_row(n) for n in range(4)])
    real = batches.communications_trigger_bulk

    def broken(**kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(batches, "communications_trigger_bulk", broken)
    batch = batch_run(batch=batch, chunk_rows=2)

    assert batch.status == Batch.Status.FAILED
    assert batch.error == "RuntimeError: renderer crashed"
    assert batch.processed == 0 and not Communication.objects.exists()

    monkeypatch.setattr(batches, "communications_trigger_bulk", real)
    batch_resume(batch=batch, actor=operator)
    batch = batch_run(batch=batch, chunk_rows=2)

    assert batch.status == Batch.Status.DONE
    assert Communication.objects.count() == 4
    assert AuditEvent.objects.filter(action="channels.batch.failed").count() == 1
    assert AuditEvent.objects.filter(action="channels.batch.resumed").count() == 1


def test_stalled_batches_are_picked_up_again(templates, operator, settings):
    settings.BATCH_STALE_SECONDS = 0
    batch = _create(operator, [_row(1)])

    assert batches_resume() == [batch.pk]
    batch_run(batch=batch)
    assert batches_resume() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_process_every_row_exactly_once(templates, operator):
    batch = _create(operator, [_row(n) for n in range(60)])
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        try:
            start.wait()
            batch_run(batch=Batch.objects.get(pk=batch.pk), chunk_rows=7)
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE
    assert (batch.processed, batch.accepted, batch.refused) == (60, 60, 0)
    assert Communication.objects.filter(batch=batch).count() == 60
    assert BatchRow.objects.filter(communication__isnull=False).count() == 60


# --- In a browser, with a real worker -------------------------------------------


def _worker_start(**env: str):
    """Start a real Celery worker process on the test database and broker."""
    from tests.processes import celery_worker_start

    return celery_worker_start(name="batch-test", **env)


@contextlib.contextmanager
def _frozen(process):
    """Stop a process for the duration of the block (SIGSTOP, then SIGCONT)."""
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)


def _wait_until(condition, *, timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` s.

    The limits are generous: on a loaded 2-core machine a worker takes tens of
    seconds to start, and the test only waits as long as it has to.
    """
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_leaves_a_batch_that_resumes_without_duplicates(
    templates, operator, settings
):
    batch = _create(operator, [_row(n) for n in range(150)])
    first = _worker_start(BATCH_CHUNK_ROWS="10")

    def killed_after_30_rows() -> bool:
        # Read the counter with the worker frozen: it cannot finish the run
        # between the reading and the kill, however slowly this process is
        # scheduled on a loaded machine.
        with _frozen(first):
            batch.refresh_from_db()
            if batch.processed < 30:
                return False
            first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        return True

    try:
        _wait_until(killed_after_30_rows, timeout=300, what="30 rows processed")
    finally:
        first.kill()
        first.communicate(timeout=30)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.RUNNING
    assert 30 <= batch.processed < 150, "the kill came too late to test a resume"
    # Whatever the killed worker had in hand rolled back with its chunk.
    assert BatchRow.objects.filter(processed__isnull=False).count() == batch.processed
    assert Communication.objects.filter(batch=batch).count() == batch.accepted

    settings.BATCH_STALE_SECONDS = 0
    second = _worker_start(BATCH_CHUNK_ROWS="10")
    try:
        assert batches_resume() == [batch.pk]

        def done() -> bool:
            batch.refresh_from_db()
            return batch.status == Batch.Status.DONE

        _wait_until(done, timeout=300, what="the resumed run to finish")
    finally:
        second.terminate()
        second.communicate(timeout=30)

    assert (batch.processed, batch.accepted, batch.refused) == (150, 150, 0)
    assert Communication.objects.filter(batch=batch).count() == 150
    assert (
        Communication.objects.filter(batch=batch).values("customer").distinct().count()
        == 150
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_operator_uploads_a_csv_and_watches_the_run_finish(
    live_server, page, settings, tmp_path
):
    from django.core.management import call_command

    from ccm.management.commands.seed_demo import demo_password

    settings.DEBUG = True
    call_command("seed_demo", dispatches=0)
    settings.DEBUG = False
    lines = [HEADER.strip()]
    for n in range(120):
        name = "فاطمة الحربي" if n % 2 else f"Customer {n}"
        lines.append(
            f"W-{n},{name},w{n}@example.com,050{n:07d},en,{name},"
            f"MT-{400000 + n},{10 + n}.25,SAR,2026-12-31"
        )
    lines.append("GHOST-1,,,,,Nobody,MT-499999,5,SAR,2026-12-31")
    upload = tmp_path / "reminders.csv"
    upload.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")

    browser_sign_in(page, live_server.url, "operator", demo_password("operator"))
    page.goto(f"{live_server.url}/admin/channels_app/batch/")
    page.click("#batch-upload-link")
    page.select_option("#id_template", "payment-reminder")
    page.set_input_files("#id_file", str(upload))
    page.click("#batch-upload-form input[type=submit]")

    page.wait_for_selector("#batch-progress")
    assert page.locator("#batch-total").inner_text() == "121"
    assert page.locator("#batch-processed").inner_text() == "0"
    page.evaluate("window.__sameDocument = true")
    batch = Batch.objects.get(file_name="reminders.csv")
    # The run waits in the broker until a worker starts: the page is on screen
    # before the run begins.
    worker = _worker_start(BATCH_CHUNK_ROWS="10")

    def counters_moved_in_the_same_document() -> bool:
        # Freeze the worker while the page shows the counters, so the run
        # cannot end (and reload the page) before the panel has shown it
        # part-way, however slowly things are scheduled.
        with _frozen(worker):
            batch.refresh_from_db()
            if batch.processed == 0:
                return False
            assert batch.processed < 121, "the run ended before the page polled"
            # A function, not an expression: Playwright evaluates an
            # expression with eval(), which the page's CSP refuses.
            page.wait_for_function(
                "([processed]) => window.__sameDocument === true && "
                "document.getElementById('batch-processed').textContent === processed",
                arg=[str(batch.processed)],
                timeout=15_000,
            )
        return True

    try:
        _wait_until(
            counters_moved_in_the_same_document,
            timeout=300,
            what="the run's first rows on the page",
        )
        # When the run ends the page reloads once to list the refused rows.
        page.wait_for_selector("#batch-status[data-status=done]", timeout=300_000)
        page.wait_for_selector("#batch-refused-rows td:has-text('GHOST-1')")
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
    assert page.locator("#batch-processed").inner_text() == "121"
    assert page.locator("#batch-accepted").inner_text() == "120"
    assert page.locator("#batch-refused").inner_text() == "1"
    assert "unknown customer 'GHOST-1'" in page.inner_text("#batch-refused-rows")
    assert Communication.objects.filter(batch=batch).count() == 120


def test_a_row_checked_against_a_schema_with_a_remote_reference_is_refused_not_a_500():
    """Schemas stored before references were confined never fetch, and never 500."""
    from channels_app.batch_rows import _rows_problems

    schema = {
        "type": "object",
        "properties": {"name": {"$ref": "http://127.0.0.1:9/a.json"}},
    }
    rows = [{"customer": {"external_id": "C-1"}, "data": {"name": "Huda"}}]

    problems = [p for p in _rows_problems(rows, schema, set()) if p.field == "data"]

    assert len(problems) == 1
    assert "cannot be resolved" in problems[0].message


@pytest.mark.parametrize("amount", ["inf", "NaN", "1e999", "-Infinity"])
def test_a_csv_number_that_is_not_finite_is_refused_naming_row_and_column(
    templates, operator, amount
):
    schema = templates["payment-reminder"].data_schema
    content = (
        "external_id,name,email,customer.name,policy_number,amount,currency,due_date\n"
        f"C-1,Reem,r@example.com,Reem,MT-204518,{amount},SAR,2026-12-15\n"
    )
    rows = batch_rows_from_csv(_csv(content), schema=schema)

    with pytest.raises(BatchRefused) as refused:
        _create(operator, rows)

    (message,) = refused.value.messages()
    assert "line 2, column amount" in message
    assert not Batch.objects.exists()


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00Z"])
def test_a_batch_scheduled_at_the_end_of_time_is_refused(templates, operator, when):
    from django.utils.dateparse import parse_datetime

    with pytest.raises(BatchRefused) as refused:
        _create(operator, [_row(1)], scheduled_for=parse_datetime(when))

    assert "schedule" in refused.value.problems
