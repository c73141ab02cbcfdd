"""The audit vocabulary, and the events audit's own services write."""

import pytest
from django.core.management import CommandError, call_command

from audit import vocabulary
from audit.models import AuditEvent
from audit.services import AuditEntry, event_record, events_record_bulk
from tests.audit.tampering import triggers_lifted

LIFECYCLE = ["created", "submitted", "withdrawn", "approved", "rejected", "retired",
             "superseded"]  # fmt: skip
DISPATCH = ["queued", "sent", "delivered", "bounced", "failed", "suppressed",
            "cancelled", "resent"]  # fmt: skip


def test_product_vocabulary_is_registered():
    names = {action.name for action in vocabulary.actions()}
    expected = {
        *(f"templates.version.{verb}" for verb in LIFECYCLE),
        *(f"templates.block.{verb}" for verb in LIFECYCLE),
        *(f"channels.dispatch.{verb}" for verb in DISPATCH),
        "channels.preference.set",
        "auth.permission.granted",
        "auth.permission.revoked",
        "audit.verified",
    }
    assert expected <= names
    assert all(vocabulary.action_get(name).description for name in expected)


def test_unknown_action_error_names_the_action():
    with pytest.raises(vocabulary.UnknownAuditAction) as error:
        vocabulary.action_get("channels.dispatch.teleported")
    assert "channels.dispatch.teleported" in str(error.value)


@pytest.mark.parametrize("name", ["Templates.version.made", "single", "a..b", "a.b-c"])
def test_badly_formed_names_are_refused(name):
    with pytest.raises(ValueError, match="dotted"):
        vocabulary.register(name, "nope")


def test_registering_twice_is_harmless_but_a_different_meaning_is_refused():
    description = vocabulary.action_get("audit.verified").description
    assert vocabulary.register("audit.verified", description).name == "audit.verified"
    with pytest.raises(ValueError, match="already registered"):
        vocabulary.register("audit.verified", "something else")


def _written(since: int) -> list[tuple]:
    return list(
        AuditEvent.objects.filter(sequence__gt=since)
        .order_by("sequence")
        .values_list("action", "actor_kind", "actor_label", "after")
    )


@pytest.mark.django_db
def test_event_record_writes_exactly_one_event():
    event_record(action="channels.dispatch.sent", after={"id": 1})
    assert _written(0) == [("channels.dispatch.sent", "system", "system", {"id": 1})]


@pytest.mark.django_db
def test_events_record_bulk_writes_exactly_its_entries():
    events_record_bulk(
        entries=[
            AuditEntry(action="channels.dispatch.queued", after={"id": 1}),
            AuditEntry(action="channels.dispatch.suppressed", after={"id": 2}),
        ]
    )
    assert _written(0) == [
        ("channels.dispatch.queued", "system", "system", {"id": 1}),
        ("channels.dispatch.suppressed", "system", "system", {"id": 2}),
    ]


@pytest.mark.django_db
def test_audit_verify_record_writes_one_audit_verified_event(chain):
    call_command("audit_verify", record=True)
    assert _written(6) == [
        (
            "audit.verified",
            "system",
            "audit_verify",
            {"ok": True, "count": 6, "last_hash": chain[-1].hash},
        )
    ]


@pytest.mark.django_db
def test_audit_verify_records_a_break_too(chain):
    with triggers_lifted() as cursor:
        cursor.execute("UPDATE audit_auditevent SET reason = 'x' WHERE sequence = 4")
    with pytest.raises(CommandError):
        call_command("audit_verify", record=True)
    (written,) = _written(6)
    assert written[0] == "audit.verified"
    assert written[3] == {
        "ok": False,
        "count": 3,
        "last_hash": chain[2].hash,
        "sequence": 4,
        "kind": "changed",
    }
