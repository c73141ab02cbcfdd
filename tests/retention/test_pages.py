"""Holds and classes are set in the admin, audited, and shown on /ops/."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from ccm.roles import OPERATOR, RECORDS_MANAGER
from retention.models import LegalHold, RetentionClass
from tests.factories import user_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db):
    from customers.services import customer_upsert

    return customer_upsert(external_id="H-1", name="Huda", email="h@x.example")[0]


def _place(client, customer, reference="CASE-1"):
    return client.post(
        reverse("admin:retention_legalhold_add"),
        {
            "scope": "customer",
            "customer": customer.pk,
            "reason": "Litigation",
            "reference": reference,
        },
    )


def test_a_records_manager_places_a_hold_and_another_releases_it(client, customer):
    dpo = user_build(username="dpo", role=RECORDS_MANAGER)
    counsel = user_build(username="counsel", role=RECORDS_MANAGER)
    client.force_login(dpo)

    assert _place(client, customer).status_code == 302
    hold = LegalHold.objects.get()
    change = reverse("admin:retention_legalhold_change", args=[hold.pk])
    refused = client.post(change, {"release_reason": "done"})
    assert refused.status_code == 200
    assert "ask a second person" in refused.content.decode()
    assert LegalHold.objects.get().active

    client.force_login(counsel)
    assert client.post(change, {"release_reason": "Case closed"}).status_code == 302
    hold.refresh_from_db()
    assert not hold.active and hold.released_by == counsel
    assert client.get(change).status_code == 200
    assert list(
        AuditEvent.objects.filter(action__startswith="retention.hold").values_list(
            "action", "actor_label"
        )
    ) == [("retention.hold.placed", "dpo"), ("retention.hold.released", "counsel")]


def test_a_hold_without_its_customer_is_refused_with_the_field_named(client):
    client.force_login(user_build(username="dpo", role=RECORDS_MANAGER))
    page = client.post(
        reverse("admin:retention_legalhold_add"),
        {"scope": "customer", "reason": "x", "reference": "y"},
    )
    assert page.status_code == 200
    assert "A hold on this scope names it." in page.content.decode()
    assert not LegalHold.objects.exists()


def test_a_longer_retention_period_is_saved_and_audited_with_before_and_after(
    client,
):
    client.force_login(user_build(username="dpo", role=RECORDS_MANAGER))
    default = RetentionClass.objects.get(category__isnull=True)
    page = client.post(
        reverse("admin:retention_retentionclass_change", args=[default.pk]),
        {
            "name": "Default",
            "category": "",
            "copies_days": "4000",
            "pdfs_days": "3653",
            "contacts_days": "",
            "snapshots_days": "3653",
        },
    )
    assert page.status_code == 302
    event = AuditEvent.objects.get(action="retention.class.changed")
    assert event.before["copies_days"] == 3653
    assert event.after["copies_days"] == 4000
    assert event.after["contacts_days"] is None


def test_an_operator_reads_holds_but_may_not_place_them(client, customer):
    client.force_login(user_build(username="dpo", role=RECORDS_MANAGER))
    _place(client, customer, reference="SAMA-7")
    client.force_login(user_build(username="op", role=OPERATOR))

    assert _place(client, customer).status_code == 403
    page = client.get(reverse("operations:retention"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "SAMA-7" in text and "Huda" in text
    assert 'id="hold-add"' not in text
    assert (
        'id="nav-retention"'
        in client.get(reverse("operations:dashboard")).content.decode()
    )


def test_the_retention_page_is_arabic_right_to_left(client):
    client.force_login(user_build(username="op", role=OPERATOR))
    page = client.get(reverse("operations:retention"), HTTP_ACCEPT_LANGUAGE="ar")
    assert 'dir="rtl"' in page.content.decode()


def test_the_page_needs_the_retention_permissions(client):
    client.force_login(user_build(username="author", role="Author"))
    assert client.get(reverse("operations:retention")).status_code == 403
