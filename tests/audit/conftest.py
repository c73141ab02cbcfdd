"""A small audit chain of every shape of event, and its author."""

import pytest

from audit.models import AuditEvent
from audit.services import event_record


@pytest.fixture
def author(django_user_model):
    return django_user_model.objects.create_user(username="amal", password="x" * 12)


@pytest.fixture
def chain(author) -> list[AuditEvent]:
    """Six events of every shape: user and system actors, subjects, JSON states."""
    events = [
        event_record(action="templates.version.created", actor=author, subject=author),
        event_record(
            action="templates.version.submitted",
            actor=author,
            subject=author,
            before={"status": "draft"},
            after={"status": "in_review", "score": 1.0, "tags": ["a", "ب"]},
            reason="ready for review",
        ),
        event_record(action="channels.dispatch.queued", after={"count": 3}),
        event_record(
            action="channels.dispatch.sent",
            actor_kind=AuditEvent.ActorKind.API_CLIENT,
            actor_label="crm-sync",
            after={"provider_id": "m-1", "cost": 0.05},
        ),
        event_record(action="channels.dispatch.delivered", correlation_id="req-9"),
        event_record(action="auth.permission.granted", actor=author, subject=author),
    ]
    assert [event.sequence for event in events] == [1, 2, 3, 4, 5, 6]
    return events
