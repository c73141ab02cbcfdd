"""The lifecycle module alone moves dispatches, and only along allowed transitions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from channels_app import lifecycle
from channels_app.models import Dispatch, DispatchStatusChange, Escalation
from channels_app.services import dispatch_cancel
from customers.services import customer_upsert
from tests import lifecycle_guard
from tests.factories import approved_version_build, dispatch_build, user_build

pytestmark = pytest.mark.django_db
Status = Dispatch.Status


@pytest.fixture
def dispatch():
    customer, _ = customer_upsert(
        external_id="L-1", name="Layla", email="layla@example.com"
    )
    return dispatch_build(version=approved_version_build(), customer=customer)


def test_a_move_outside_the_transitions_is_refused_and_nothing_is_written(dispatch):
    operator = user_build(username="ops")
    dispatch_cancel(dispatch=dispatch, actor=operator, reason="customer asked")
    events = AuditEvent.objects.count()

    with pytest.raises(lifecycle.DispatchStateError) as refused:
        lifecycle.dispatches_move(
            moves=[lifecycle.Move(Dispatch.objects.get(pk=dispatch.pk), Status.SENDING)]
        )

    assert refused.value.code == "channels.dispatch.move_refused"
    assert refused.value.problem.params == {
        "dispatch": dispatch.pk,
        "status": "cancelled",
        "to": "sending",
    }
    assert str(refused.value).endswith("is Cancelled; it cannot become Sending.")

    dispatch.refresh_from_db()
    assert dispatch.status == Status.CANCELLED
    assert AuditEvent.objects.count() == events
    assert [c.status for c in dispatch.status_changes.all()] == [Status.CANCELLED]


def test_a_move_from_a_status_the_row_no_longer_has_is_refused(dispatch):
    stale = Dispatch.objects.get(pk=dispatch.pk)
    lifecycle.dispatches_move(moves=[lifecycle.Move(dispatch, Status.CANCELLED)])

    with pytest.raises(lifecycle.DispatchStateError, match="changed status meanwhile"):
        lifecycle.dispatches_move(
            moves=[lifecycle.Move(stale, Status.SUPPRESSED, detail="late")]
        )

    assert Dispatch.objects.get(pk=dispatch.pk).status == Status.CANCELLED
    assert not DispatchStatusChange.objects.filter(status=Status.SUPPRESSED).exists()


def test_a_failure_records_its_history_escalation_and_event_together(dispatch):
    now = timezone.now()
    lifecycle.dispatches_move(
        moves=[
            lifecycle.Move(
                dispatch, Status.SENDING, changes={"lease_until": now + timedelta(1)}
            )
        ],
        now=now,
    )
    failed = lifecycle.Move(
        dispatch,
        Status.FAILED,
        detail="550 no such user",
        changes={"error": "550 no such user", "severity": "high", "lease_until": None},
        escalation=("high", "email failed: 550 no such user"),
        event=lifecycle.AuditEntry(action="channels.dispatch.failed", subject=dispatch),
    )
    lifecycle.dispatches_move(moves=[failed])

    dispatch.refresh_from_db()
    assert (dispatch.status, dispatch.error, dispatch.severity) == (
        Status.FAILED,
        "550 no such user",
        "high",
    )
    assert dispatch.lease_until is None
    assert [c.status for c in dispatch.status_changes.all()] == [
        Status.SENDING,
        Status.FAILED,
    ]
    assert Escalation.objects.get(dispatch=dispatch).severity == "high"
    assert AuditEvent.objects.filter(
        action="channels.dispatch.failed", object_id=str(dispatch.pk)
    ).exists()


def test_a_new_dispatch_starts_queued_or_suppressed_only(dispatch):
    copy = Dispatch(
        communication=dispatch.communication,
        channel="email",
        language="en",
        address="layla@example.com",
        due_at=timezone.now(),
    )
    with pytest.raises(lifecycle.DispatchStateError) as refused:
        lifecycle.dispatches_open(openings=[(copy, Status.SENT)])
    assert refused.value.code == "channels.dispatch.opening_refused"
    assert str(refused.value) == "A dispatch cannot start as Sent."
    assert Dispatch.objects.count() == 1


def test_the_guard_catches_a_status_written_outside_the_lifecycle(
    dispatch, dispatch_status_owner
):
    """The suite's guard is no formality: a product module writing a status fails."""
    outside = lifecycle_guard.ROOT / "channels_app" / "outbox.py"
    code = compile(
        "Dispatch.objects.filter(pk=pk).update(status='queued')", str(outside), "exec"
    )

    exec(code, {"Dispatch": Dispatch, "pk": dispatch.pk})  # noqa: S102
    lifecycle.dispatches_move(moves=[lifecycle.Move(dispatch, Status.SUPPRESSED)])

    found = list(dispatch_status_owner)
    dispatch_status_owner.clear()  # this test's trespass was deliberate
    assert len(found) == 1
    assert found[0].startswith("channels_app/outbox.py:1 ")
