"""`Prefer: respond-async`: a trigger is checked and queued at once, triggered in bulk.

Real components: the test database, the broker of the test run and a Celery
worker process serving the housekeeping and email queues, an SMTP sink.
"""

import copy
import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccm.roles import API_CLIENT
from channels_app.intake import intake_drain, intakes_drain, respond_async_wanted
from channels_app.models import Communication, Dispatch, TriggerIntake
from customers.models import Customer, PreferenceEntry
from customers.services import preference_set
from tests.channels_app.test_api import BODY
from tests.factories import user_build
from tests.processes import celery_worker_start, wait_until

pytestmark = pytest.mark.django_db

ASYNC = {"HTTP_PREFER": "respond-async"}


@pytest.fixture
def api(demo_templates):
    system = user_build(username="core-banking", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")
    return client


def _post(api, body=BODY, key="key-1", **headers):
    return api.post(
        "/api/v1/communications",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        **{**ASYNC, **headers},
    )


def _body(**changes):
    body = copy.deepcopy(BODY)
    body.update(changes)
    return body


def test_the_prefer_header_is_read_as_rfc_7240_writes_it():
    assert respond_async_wanted("respond-async")
    assert respond_async_wanted("return=minimal, Respond-Async; wait=10")
    assert not respond_async_wanted("")
    assert not respond_async_wanted("return=representation")


def test_a_queued_trigger_answers_202_then_reads_as_its_communication(api):
    answer = _post(api)

    assert answer.status_code == 202, answer.json()
    assert answer["Preference-Applied"] == "respond-async"
    queued_id = answer.json()["id"]
    assert answer.json() == {"id": queued_id, "status": "queued"}
    assert answer["Location"] == f"/api/v1/communications/{queued_id}"
    assert not Communication.objects.exists()
    assert api.get(answer["Location"]).json() == {"id": queued_id, "status": "queued"}

    assert intake_drain() == 1

    status = api.get(answer["Location"]).json()
    assert status["id"] == queued_id
    assert status["status"] == "accepted"
    assert status["template"] == "payment-reminder"
    assert [d["status"] for d in status["dispatches"]] == ["queued"]
    communication = Communication.objects.get()
    assert str(communication.public_id) == queued_id
    assert communication.idempotency_key == "key-1"
    assert Customer.objects.get(external_id="C-42").phone == "+966501234567"
    assert intake_drain() == 0  # nothing is triggered twice
    # The request's copy of the customer and the data is gone once triggered.
    assert TriggerIntake.objects.get().payload == {}


def test_a_replayed_key_returns_the_queued_answer_and_queues_nothing_more(api):
    first = _post(api)
    again = _post(api)

    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert TriggerIntake.objects.count() == 1
    assert _post(api, body=_body(channels=["sms"])).status_code == 422


def test_what_needs_no_rendering_is_refused_at_once_with_a_field_level_400(api):
    unknown = _post(api, body=_body(template="no-such-template"), key="a")
    bad_data = _post(api, body=_body(data={"policy_number": 7}), key="b")
    bad_channel = _post(api, body=_body(channels=["fax"]), key="c")
    nobody = _post(api, body=_body(customer={"external_id": "NOBODY"}), key="d")
    bad_email = _post(
        api, body=_body(customer={"external_id": "X", "email": "nope"}), key="e"
    )

    assert unknown.status_code == 400 and "template" in unknown.json()
    assert bad_data.status_code == 400 and "data" in bad_data.json()
    assert bad_channel.status_code == 400 and "channels" in bad_channel.json()
    assert nobody.status_code == 400 and "customer" in nobody.json()
    assert bad_email.status_code == 400 and "customer" in bad_email.json()
    assert not TriggerIntake.objects.exists()
    # A refused request frees its key.
    assert _post(api, key="a").status_code == 202


def test_a_trigger_the_drain_refuses_reads_as_refused_with_why(api):
    # An SMS asked for a customer with no phone: known only when triggering.
    body = _body(
        customer={"external_id": "C-7", "name": "Noura", "email": "n@example.com"},
        channels=["sms"],
        template="one-time-passcode",
        data={"code": "482913", "expires_minutes": 5},
    )
    answer = _post(api, body=body)
    assert answer.status_code == 202, answer.json()

    assert intake_drain() == 1

    status = api.get(answer["Location"])
    assert status.status_code == 200
    assert status.json()["status"] == "refused"
    assert status.json()["problems"]["customer"][0]["code"]
    assert not Communication.objects.exists()
    assert TriggerIntake.objects.get().payload == {}


def test_consent_is_decided_when_the_queued_trigger_is_triggered(api):
    customer = Customer.objects.create(
        external_id="C-42", name="Fatimah", email="fatimah@example.com"
    )
    answer = _post(api, body=_body(channels=["email"]))
    preference_set(
        customer=customer,
        channel="email",
        category="collections",
        opted_in=False,
        source=PreferenceEntry.Source.CUSTOMER,
        legal_basis=PreferenceEntry.LegalBasis.CONSENT,
    )

    intake_drain()

    (dispatch,) = Communication.objects.get().dispatches.all()
    assert dispatch.status == Dispatch.Status.SUPPRESSED
    assert api.get(answer["Location"]).json()["status"] == "suppressed"


def test_another_client_cannot_read_a_queued_trigger(api):
    answer = _post(api)
    other = user_build(username="crm", is_staff=False)
    other.groups.add(Group.objects.get(name=API_CLIENT))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other)}")

    assert client.get(answer["Location"]).status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_trigger_every_queued_trigger_exactly_once(api):
    for n in range(120):
        body = _body(customer={**BODY["customer"], "external_id": f"C-{n}"})
        assert _post(api, body=body, key=f"k-{n}").status_code == 202
    counts: list[int] = []
    start = threading.Barrier(2)

    def drain():
        try:
            start.wait()
            while done := intake_drain(limit=25):
                counts.append(done)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 120
    assert Communication.objects.count() == 120
    assert not TriggerIntake.objects.filter(status="queued").exists()


def test_after_a_short_chunk_the_drain_lets_arrivals_gather_into_one_chunk(
    api, settings
):
    settings.INTAKE_CHUNK_ROWS, settings.INTAKE_GATHER_MS = 50, 200
    assert _post(api, key="first").status_code == 202
    waits, arrivals = [], iter([range(1, 8), range(8, 12)])

    def wait(seconds):
        # Triggers arriving while the drain waits: each wait, a few more.
        waits.append(seconds)
        for n in next(arrivals, []):
            body = _body(customer={**BODY["customer"], "external_id": f"G-{n}"})
            assert _post(api, body=body, key=f"g-{n}").status_code == 202

    drained = intakes_drain(wait=wait)

    assert drained == 12
    # One alone at once, then the seven that gathered in one chunk, then four.
    assert waits == [0.2, 0.2, 0.2]
    processed = sorted(
        TriggerIntake.objects.values_list("processed", flat=True).distinct()
    )
    assert len(processed) == 3
    assert not TriggerIntake.objects.filter(status="queued").exists()


def test_with_no_gathering_the_drain_takes_chunk_after_chunk_at_once(api, settings):
    settings.INTAKE_CHUNK_ROWS, settings.INTAKE_GATHER_MS = 50, 0
    assert _post(api, key="only").status_code == 202
    waits = []

    assert intakes_drain(wait=waits.append) == 1
    assert waits == []


@pytest.mark.django_db(transaction=True)
def test_a_worker_drains_the_queue_and_the_email_reaches_the_customer(
    api, smtp_sink, settings
):
    worker = celery_worker_start(
        "--queues=housekeeping,email",
        name="intake-test",
        EMAIL_HOST=settings.EMAIL_HOST,
        EMAIL_PORT=str(settings.EMAIL_PORT),
    )
    try:
        answer = _post(api)
        assert answer.status_code == 202
        wait_until(
            lambda: Dispatch.objects.filter(status=Dispatch.Status.SENT).exists(),
            timeout=180,
            what="the queued trigger drained and its email sent by the worker",
        )
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")

    assert "Traceback" not in output, output[-3000:]
    status = api.get(answer["Location"]).json()
    assert status["dispatches"][0]["status"] == "sent"
    assert smtp_sink.received() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_queued_requests_with_one_key_at_once_queue_one_trigger(api):
    token = api._credentials["HTTP_AUTHORIZATION"]
    answers: list = []
    start = threading.Barrier(50)

    def call():
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=token)
            start.wait()
            answers.append(_post(client, key="same"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert TriggerIntake.objects.count() == 1
    refused = [a.json() for a in answers if a.status_code != 202]
    assert {a.status_code for a in answers} == {202}, refused[:2]
    assert {a.json()["id"] for a in answers} == {
        str(TriggerIntake.objects.get().public_id)
    }


def test_a_replay_is_answered_as_first_even_once_the_template_is_retired(
    api, django_capture_on_commit_callbacks
):
    from templates_app import services
    from templates_app.models import Template
    from templates_app.selectors import version_in_force

    first = _post(api)
    with django_capture_on_commit_callbacks(execute=True):
        services.version_retire(
            version=version_in_force(Template.objects.get(code="payment-reminder")),
            actor=user_build(username="compliance", is_superuser=True),
            comment="wrong wording",
        )

    assert _post(api, key="another").status_code == 400
    again = _post(api)
    assert again.status_code == 202
    assert again.json() == first.json()


def test_a_trigger_the_path_cannot_take_is_refused_alone_and_the_rest_go(api):
    first = _post(api, key="a")
    # Stored behind the API's back: a request no check would have let through.
    broken = TriggerIntake.objects.create(
        client=TriggerIntake.objects.get().client,
        idempotency_key="broken",
        payload={**copy.deepcopy(BODY), "channels": 5},
    )
    last = _post(
        api,
        body=_body(customer={**BODY["customer"], "external_id": "C-43"}),
        key="b",
    )

    assert intake_drain() == 3
    assert intake_drain() == 0

    broken.refresh_from_db()
    assert broken.status == "refused"
    assert broken.problems["request"][0]["code"] == "trigger.failed"
    for answer in (first, last):
        assert api.get(answer["Location"]).json()["status"] == "accepted"


def test_an_erasure_refuses_the_queued_triggers_that_would_bring_the_customer_back(
    api,
):
    from ccm.roles import OPERATOR
    from subject_rights.erasure import customer_erase

    customer = Customer.objects.create(
        external_id="C-42", name="Fatimah Al-Harbi", email="fatimah@example.com"
    )
    answer = _post(api)
    dpo = user_build(username="dpo", is_superuser=True, role=OPERATOR)

    customer_erase(
        customer=customer, actor=dpo, reason="asked in writing", reference="DSR-1"
    )
    assert intake_drain() == 0

    status = api.get(answer["Location"]).json()
    assert status["status"] == "refused"
    assert status["problems"]["customer"][0]["code"] == "trigger.customer.erased"
    assert not Customer.objects.filter(external_id="C-42").exists()
    assert TriggerIntake.objects.get().payload == {}
