"""Refusals carry a stable code and read in the reader's language, Arabic or English.

The API answers each error with its code and a message in the request's
Accept-Language; the admin and the console show it in the user's language;
a refusal stored by a worker is worded when it is read.
"""

import re

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccm.models import UserSettings
from ccm.roles import API_CLIENT, OPERATOR
from channels_app.models import Dispatch
from customers.services import customer_upsert
from tests.channels_app.test_api import BATCH, BODY
from tests.factories import approved_version_build, dispatch_build, user_build

pytestmark = pytest.mark.django_db

ARABIC = re.compile(r"[\u0600-\u06ff]")


@pytest.fixture
def api(demo_templates):
    system = user_build(username="core-banking", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")
    return client


def _both(call) -> tuple[dict, dict]:
    """Return the same request's answer in English and in Arabic."""
    return call("en"), call("ar")


def _trigger(api, body, key="k-1"):
    def call(language):
        response = api.post(
            "/api/v1/communications",
            body,
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"{key}-{language}",
            HTTP_ACCEPT_LANGUAGE=language,
        )
        assert response.status_code == 400, response.content
        assert response["Content-Language"] == language
        return response.json()

    return call


def _same_code_two_languages(english: dict, arabic: dict) -> None:
    assert english["code"] == arabic["code"]
    assert english["params"] == arabic["params"]
    assert not ARABIC.search(english["message"])
    assert ARABIC.search(arabic["message"]), arabic


def test_a_trigger_refusal_has_one_code_and_a_message_in_each_language(api):
    body = {**BODY, "template": "one-time-passcode", "channels": ["email"]}
    english, arabic = _both(_trigger(api, body))

    english, arabic = english["channels"][0], arabic["channels"][0]
    assert english["code"] == "trigger.channels.unsupported"
    assert english["message"] == (
        "one-time-passcode does not support Email (it supports SMS)"
    )
    _same_code_two_languages(english, arabic)
    assert "البريد الإلكتروني" in arabic["message"]


def test_an_unknown_customer_is_refused_in_the_requested_language(api):
    body = {**BODY, "customer": {"external_id": "C-unknown"}}
    english, arabic = _both(_trigger(api, body))

    english, arabic = english["customer"][0], arabic["customer"][0]
    assert english["code"] == "trigger.customer.unknown"
    assert english["params"] == {"id": "C-unknown"}
    _same_code_two_languages(english, arabic)


def test_a_bad_phone_number_is_refused_in_the_requested_language(api):
    body = {**BODY, "customer": {**BODY["customer"], "phone": "12"}}
    english, arabic = _both(_trigger(api, body))

    english, arabic = english["customer"]["phone"][0], arabic["customer"]["phone"][0]
    assert english == {
        "code": "customers.phone.invalid",
        "message": "'12' is not a valid phone number.",
    }
    assert arabic["code"] == "customers.phone.invalid"
    assert ARABIC.search(arabic["message"]) and "12" in arabic["message"]


def test_the_reuse_of_a_key_is_refused_in_the_requested_language(api):
    first = api.post(
        "/api/v1/communications", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert first.status_code == 202

    def call(language):
        response = api.post(
            "/api/v1/communications",
            {**BODY, "channels": ["sms"]},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k",
            HTTP_ACCEPT_LANGUAGE=language,
        )
        assert response.status_code == 422
        return response.json()["Idempotency-Key"][0]

    english, arabic = _both(call)
    assert english["code"] == "api.idempotency_key.reused"
    _same_code_two_languages(english, arabic)


def test_a_row_refused_by_a_worker_is_read_in_the_readers_language(api):
    from channels_app.batches import batch_run
    from channels_app.models import Batch, BatchRow

    response = api.post(
        "/api/v1/batches", BATCH, format="json", HTTP_IDEMPOTENCY_KEY="b-1"
    )
    batch_run(batch=Batch.objects.get(public_id=response.json()["id"]))
    # Stored as a code with its parameters, not as words of the worker's language.
    row = BatchRow.objects.get(number=4)
    assert row.problems == {
        "customer": [
            {"code": "trigger.customer.unknown", "params": {"id": "C-unknown"}}
        ]
    }

    def call(language):
        progress = api.get(response.json()["progress"], HTTP_ACCEPT_LANGUAGE=language)
        return progress.json()["problems"][0]["problems"]["customer"][0]

    english, arabic = _both(call)
    assert english["message"] == (
        "unknown customer 'C-unknown': give a name and contact data to create it"
    )
    _same_code_two_languages(english, arabic)


def test_a_row_stored_as_text_before_codes_is_still_shown(api):
    from channels_app.batches import batch_run
    from channels_app.models import Batch, BatchRow

    response = api.post(
        "/api/v1/batches", BATCH, format="json", HTTP_IDEMPOTENCY_KEY="b-2"
    )
    batch_run(batch=Batch.objects.get(public_id=response.json()["id"]))
    BatchRow.objects.filter(number=4).update(
        problems={"customer": ["unknown customer 'C-unknown'"]}
    )

    progress = api.get(response.json()["progress"], HTTP_ACCEPT_LANGUAGE="ar").json()

    assert progress["problems"][0]["problems"] == {
        "customer": [{"code": "invalid", "message": "unknown customer 'C-unknown'"}]
    }


@pytest.fixture
def arabic_operator(client):
    user = user_build(username="noura")
    user.groups.add(Group.objects.get(name=OPERATOR))
    UserSettings.objects.create(user=user, language="ar")
    client.force_login(user)
    return user


def test_a_refused_admin_action_reads_in_arabic_for_an_arabic_operator(
    client, arabic_operator
):
    customer, _ = customer_upsert(external_id="C-9", name="Reem", email="r@example.com")
    dispatch = dispatch_build(version=approved_version_build(), customer=customer)
    Dispatch.objects.filter(pk=dispatch.pk).update(status="sent")

    response = client.post(
        "/admin/channels_app/dispatch/",
        {"action": "cancel", "_selected_action": [dispatch.pk], "reason": "خطأ"},
        follow=True,
    )

    shown = [str(message) for message in response.context["messages"]]
    assert len(shown) == 1 and ARABIC.search(shown[0]), shown
    assert str(dispatch.pk) in shown[0]
    assert "cannot become" not in shown[0]


def test_a_missing_reason_reads_in_arabic(arabic_operator):
    from django.utils import translation

    from channels_app.lifecycle import DispatchStateError
    from channels_app.services import dispatch_cancel

    customer, _ = customer_upsert(external_id="C-8", name="Reem", email="r@example.com")
    dispatch = dispatch_build(version=approved_version_build(), customer=customer)

    with pytest.raises(DispatchStateError) as refused:
        dispatch_cancel(dispatch=dispatch, actor=arabic_operator, reason=" ")

    assert refused.value.code == "channels.reason.required"
    with translation.override("en"):
        assert str(refused.value) == "A reason is required."
    with translation.override("ar"):
        assert ARABIC.search(str(refused.value))
