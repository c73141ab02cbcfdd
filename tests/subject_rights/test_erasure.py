"""A data subject's erasure request erases them everywhere, the chain still proves."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from audit.models import AuditEvent
from channels_app.models import Dispatch
from retention.holds import hold_place
from subject_rights.erasure import customer_erase
from subject_rights.models import ErasureRequest
from tests.audit.tampering import triggers_lifted
from tests.factories import user_build
from tests.subject_rights.conftest import ADDRESS, NAME, database_hits, file_hits

pytestmark = pytest.mark.django_db


def _erase(subject, **extra) -> ErasureRequest:
    return customer_erase(
        customer=subject.customer,
        actor=subject.dpo,
        reason="The customer asked in writing",
        reference="DSR-2026-001",
        **extra,
    )


def test_before_erasure_the_search_finds_the_customer_everywhere(subject):
    tables = {table for table, _column, _needle in database_hits()}

    assert {"channels_app_customer", "channels_app_dispatch"} <= tables
    assert file_hits()


def test_an_erased_customer_is_found_nowhere_and_the_chain_verifies(
    subject, client, capsys
):
    done = _erase(subject)

    assert done.status == ErasureRequest.Status.ERASED, done.kept
    assert database_hits() == set()
    assert file_hits() == set()
    call_command("audit_verify")
    assert "OK:" in capsys.readouterr().out
    assert done.erased["dispatches"] == 3
    assert AuditEvent.objects.filter(action="subject_rights.erasure.done").exists()

    client.force_login(user_build(username="agent-2", role="Agent"))
    page = client.get(reverse("console:customer", args=[subject.customer.pk]))
    assert page.status_code == 200
    assert "erased on" in page.content.decode()
    copy = client.get(reverse("console:dispatch", args=[subject.dispatches["sms"].pk]))
    assert "erased on" in copy.content.decode()


def test_the_evidence_pack_states_the_erasure(subject, client):
    _erase(subject)
    operator = user_build(username="ops", role="Operator")
    operator.user_permissions.add(
        *__import__(
            "django.contrib.auth.models", fromlist=["Permission"]
        ).Permission.objects.filter(codename__in=["export_evidence", "use_console"])
    )
    client.force_login(operator)

    pack = client.get(
        reverse("console:customer-evidence", args=[subject.customer.pk]),
        {"format": "json"},
    )

    assert pack.status_code == 200, pack.content[:300]
    bundle = pack.json()
    assert "erased on" in bundle["erasure"]
    assert all(d["content_erased_at"] for d in bundle["dispatches"])
    assert NAME not in pack.content.decode()


def test_a_tamper_after_erasure_is_still_caught_at_its_sequence(subject):
    _erase(subject)
    target = AuditEvent.objects.filter(action="channels.dispatch.sent").first()
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET actor_label = %s WHERE sequence = %s",
            ["forger", target.sequence],
        )

    with pytest.raises(CommandError, match=f"sequence {target.sequence}: changed"):
        call_command("audit_verify")


def test_a_hold_keeps_exactly_what_it_covers_and_the_request_says_so(subject):
    letter = subject.dispatches["letter"]
    hold_place(
        actor=user_build(username="counsel", role="Records manager"),
        scope="template_version",
        template_version=letter.communication.template_version,
        reason="Litigation over the payment reminders",
        reference="CASE-77",
    )

    done = _erase(subject)

    assert done.status == ErasureRequest.Status.PARTIAL
    held = next(item for item in done.kept if item["reference"] == "CASE-77")
    assert held["count"] == 3
    # The hold covers the dispatches' rows, their snapshot, files and feedback;
    # the customer record and the preference ledger are erased all the same.
    tables = {table for table, _column, _needle in database_hits()}
    assert "channels_app_customer" not in tables
    assert "channels_app_historicalcustomer" not in tables
    assert "channels_app_preferenceentry" not in tables
    assert tables <= {
        "channels_app_dispatch",
        "channels_app_communication",
        "channels_app_escalation",
        "console_feedback",
    }
    assert Dispatch.objects.get(pk=letter.pk).address == ADDRESS
    call_command("audit_verify")


def test_a_second_request_after_a_complete_erasure_is_refused(subject):
    from django.core.exceptions import ValidationError

    _erase(subject)
    subject.customer.refresh_from_db()

    with pytest.raises(ValidationError, match="already erased"):
        _erase(subject)


def test_who_may_not_erase_is_refused(subject):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        customer_erase(
            customer=subject.customer,
            actor=subject.agent,
            reason="x",
            reference="y",
        )


def test_an_erasure_shows_on_the_operations_retention_page(subject, client):
    done = _erase(subject)
    client.force_login(subject.dpo)

    page = client.get("/ops/retention")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-erasure="DSR-2026-001"' in html
    assert f"/admin/subject_rights/erasurerequest/{done.pk}/change/" in html
    # The page names the request, never the person it erased.
    assert "Huda Q" not in html
