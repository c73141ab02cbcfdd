"""Legal holds: placed and released with a reason, by two people, audited."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from ccm.roles import OPERATOR, RECORDS_MANAGER
from channels_app.models import Dispatch
from retention.holds import (
    customer_holds,
    dispatches_held,
    dispatches_unheld,
    hold_place,
    hold_release,
)
from retention.models import LegalHold
from tests.factories import user_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def officers(db):
    return (
        user_build(username="dpo", role=RECORDS_MANAGER),
        user_build(username="counsel", role=RECORDS_MANAGER),
    )


def test_each_scope_holds_exactly_what_it_names(channels_sent, officers):
    first, second = channels_sent(1), channels_sent(2)
    dpo, _ = officers
    everything = Dispatch.objects.all()
    ids = {k: {d.pk for d in v.values()} for k, v in (("1", first), ("2", second))}
    customer_hold = hold_place(
        actor=dpo,
        scope="customer",
        customer=first["email"].communication.customer,
        reason="Complaint to the regulator",
        reference="SAMA-2026-114",
    )

    assert set(dispatches_held(everything).values_list("pk", flat=True)) == ids["1"]
    assert set(dispatches_unheld(everything).values_list("pk", flat=True)) == ids["2"]
    assert customer_holds(first["email"].communication.customer) == [customer_hold]
    assert customer_holds(second["email"].communication.customer) == []

    version = second["sms"].communication.template_version
    version_hold = hold_place(
        actor=dpo,
        scope="template_version",
        template_version=version,
        reason="Wording disputed",
        reference="CASE-9",
    )
    assert dispatches_unheld(everything).count() == 0
    assert customer_holds(second["email"].communication.customer) == [version_hold]

    today = timezone.localdate()
    assert LegalHold.objects.count() == 2
    range_hold = hold_place(
        actor=dpo,
        scope="date_range",
        starts=today - timedelta(days=1),
        ends=today,
        reason="Audit of this week",
        reference="AUD-1",
    )
    assert set(dispatches_held(everything, [range_hold])) == set(everything)
    assert not dispatches_held(everything, []).exists()


def test_a_hold_needs_its_target_a_reason_and_a_reference(officers):
    dpo, _ = officers
    with pytest.raises(ValidationError) as refused:
        hold_place(actor=dpo, scope="customer", reason="", reference="")
    assert {"customer", "reason", "reference"} <= set(refused.value.message_dict)
    with pytest.raises(ValidationError) as refused:
        hold_place(
            actor=dpo,
            scope="date_range",
            starts=date(2026, 5, 1),
            ends=date(2026, 4, 1),
            reason="r",
            reference="x",
        )
    assert "ends" in refused.value.message_dict


def test_a_release_takes_a_second_person_and_a_reason(channels_sent, officers):
    sent = channels_sent(3)
    dpo, counsel = officers
    hold = hold_place(
        actor=dpo,
        scope="category",
        category=sent["email"].communication.template_version.template.category,
        reason="Class action",
        reference="CA-3",
    )

    with pytest.raises(PermissionDenied):
        hold_release(hold=hold, actor=dpo, reason="Settled")
    with pytest.raises(ValidationError):
        hold_release(hold=hold, actor=counsel, reason=" ")
    hold_release(hold=hold, actor=counsel, reason="Settled")

    hold.refresh_from_db()
    assert not hold.active and hold.released_by == counsel
    assert not dispatches_held(Dispatch.objects.all()).exists()
    with pytest.raises(ValidationError):
        hold_release(hold=hold, actor=dpo, reason="again")
    events = AuditEvent.objects.filter(
        action__startswith="retention.hold", object_id=str(hold.pk)
    ).order_by("sequence")
    assert [e.action for e in events] == [
        "retention.hold.placed",
        "retention.hold.released",
    ]
    assert events[0].after["reference"] == "CA-3"
    assert events[1].reason == "Settled"


def test_an_operator_may_not_place_or_release_holds(db):
    operator = user_build(username="op", role=OPERATOR)
    with pytest.raises(PermissionDenied):
        hold_place(
            actor=operator,
            scope="date_range",
            starts=date(2026, 1, 1),
            ends=date(2026, 1, 2),
            reason="r",
            reference="x",
        )


def test_a_hold_on_a_customer_seals_their_name_in_its_audit_events(
    channels_sent, officers
):
    from audit.sealing import event_readable

    sent = channels_sent(1)
    customer = sent["email"].communication.customer
    dpo, _ = officers
    hold = hold_place(
        actor=dpo,
        scope="customer",
        customer=customer,
        reason="Complaint to the regulator",
        reference="SAMA-2026-115",
    )

    event = AuditEvent.objects.for_subject(hold).get(action="retention.hold.placed")
    # Stored sealed under the customer's key: erasing them erases it here too.
    assert customer.name not in f"{event.after} {event.subject_label}"
    readable = event_readable(event)
    assert customer.name in readable["after"]["covers"]
    assert readable["after"]["reference"] == "SAMA-2026-115"
