"""Recording events: the chain, the frozen labels, the transaction rules."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction

from audit.context import correlation
from audit.hashing import GENESIS_HASH
from audit.models import AuditChainHead, AuditEvent
from audit.services import AuditEntry, event_record, events_record_bulk
from audit.verify import chain_verify
from audit.vocabulary import UnknownAuditAction

pytestmark = pytest.mark.django_db


def test_event_records_actor_subject_states_and_chains_to_genesis(author):
    event = event_record(
        action="templates.version.approved",
        actor=author,
        subject=author,
        before={"status": "in_review"},
        after={"status": "approved"},
        reason="looks right",
        correlation_id="req-1",
    )

    stored = AuditEvent.objects.get(sequence=1)
    assert stored.hash == event.hash
    assert stored.prev_hash == GENESIS_HASH
    assert len(stored.hash) == 64
    assert stored.actor == author
    assert stored.actor_label == "amal"
    assert stored.actor_kind == AuditEvent.ActorKind.USER
    assert (stored.content_type.app_label, stored.content_type.model) == (
        "auth",
        "user",
    )
    assert stored.object_id == str(author.pk)
    assert stored.subject_label == "amal"
    assert stored.before == {"status": "in_review"}
    assert stored.after == {"status": "approved"}
    assert stored.reason == "looks right"
    assert stored.correlation_id == "req-1"


def test_each_event_links_to_the_previous_one_with_gapless_sequences(chain):
    stored = list(AuditEvent.objects.order_by("sequence"))
    assert [event.sequence for event in stored] == [1, 2, 3, 4, 5, 6]
    for previous, event in zip(stored, stored[1:], strict=False):
        assert event.prev_hash == previous.hash
    head = AuditChainHead.objects.get()
    assert (head.last_sequence, head.last_hash) == (6, stored[-1].hash)


def test_event_without_actor_is_recorded_as_system():
    event = event_record(action="channels.dispatch.failed")
    assert (event.actor, event.actor_kind, event.actor_label) == (
        None,
        "system",
        "system",
    )


def test_api_client_keeps_its_own_label():
    event = event_record(
        action="channels.dispatch.queued",
        actor_kind=AuditEvent.ActorKind.API_CLIENT,
        actor_label="crm-sync",
    )
    assert (event.actor_kind, event.actor_label) == ("api_client", "crm-sync")


def test_unknown_action_is_refused_and_named():
    with pytest.raises(UnknownAuditAction, match="templates.version.aproved"):
        event_record(action="templates.version.aproved")
    assert not AuditEvent.objects.exists()


def test_unknown_actor_kind_is_refused():
    with pytest.raises(ValueError, match="robot"):
        event_record(action="channels.dispatch.sent", actor_kind="robot")


def test_rolled_back_action_leaves_no_event_and_no_gap():
    event_record(action="channels.dispatch.queued")
    with pytest.raises(RuntimeError), transaction.atomic():
        event_record(action="channels.dispatch.sent")
        raise RuntimeError("the action failed after recording")
    kept = event_record(action="channels.dispatch.cancelled")

    assert list(AuditEvent.objects.values_list("sequence", "action")) == [
        (1, "channels.dispatch.queued"),
        (2, "channels.dispatch.cancelled"),
    ]
    assert kept.prev_hash == AuditEvent.objects.get(sequence=1).hash
    assert chain_verify().ok


def test_states_are_stored_as_the_database_returns_them_so_the_hash_holds():
    token = uuid.UUID(int=7)
    event_record(
        action="channels.preference.set",
        after={
            "when": date(2025, 1, 2),
            "amount": Decimal("1.50"),
            "token": token,
            1: "integer key",
            "big": 1e20,
            "whole": 2.0,
        },
    )
    stored = AuditEvent.objects.get()
    assert stored.after == {
        "when": "2025-01-02",
        "amount": "1.50",
        "token": str(token),
        "1": "integer key",
        "big": 1e20,
        "whole": 2.0,
    }
    assert chain_verify().ok


def test_states_that_are_not_json_are_refused():
    with pytest.raises(ValueError):
        event_record(action="channels.preference.set", after={"x": float("nan")})
    assert not AuditEvent.objects.exists()


def test_correlation_id_defaults_to_the_current_one():
    with correlation("req-42"):
        inside = event_record(action="channels.dispatch.queued")
    outside = event_record(action="channels.dispatch.queued")
    assert inside.correlation_id == "req-42"
    assert outside.correlation_id == ""


def test_bulk_records_many_events_in_one_chain_segment(author):
    events = events_record_bulk(
        entries=[
            AuditEntry(
                action="channels.dispatch.queued",
                actor=author,
                after={"recipient": n},
                correlation_id="bulk-1",
            )
            for n in range(250)
        ]
    )
    assert [event.sequence for event in events] == list(range(1, 251))
    assert AuditEvent.objects.filter(correlation_id="bulk-1").count() == 250
    assert AuditChainHead.objects.get().last_sequence == 250
    assert chain_verify().ok


def test_bulk_refuses_everything_when_one_action_is_unknown():
    with pytest.raises(UnknownAuditAction):
        events_record_bulk(
            entries=[
                AuditEntry(action="channels.dispatch.queued"),
                AuditEntry(action="channels.dispatch.teleported"),
            ]
        )
    assert not AuditEvent.objects.exists()


def test_lost_chain_head_restarts_from_the_last_event(chain):
    AuditChainHead.objects.all().delete()
    event = event_record(action="channels.dispatch.sent")
    assert event.sequence == 7
    assert event.prev_hash == chain[-1].hash
    assert chain_verify().ok


def test_subject_must_be_saved(django_user_model):
    with pytest.raises(ValueError, match="saved"):
        event_record(
            action="auth.permission.granted", subject=django_user_model(username="x")
        )


@pytest.mark.postgres
def test_a_writer_that_lost_the_race_for_the_head_appends_after_the_winner(
    chain, monkeypatch
):
    from audit import services

    extend = services._chain_extend

    def another_writer_first(event, *, head):
        monkeypatch.setattr(services, "_chain_extend", extend)
        event_record(action="channels.dispatch.sent", actor_label="winner")
        return extend(event, head=head)

    monkeypatch.setattr(services, "_chain_extend", another_writer_first)
    loser = event_record(action="channels.dispatch.queued", actor_label="loser")

    stored = list(AuditEvent.objects.order_by("sequence")[6:])
    assert [(event.sequence, event.actor_label) for event in stored] == [
        (7, "winner"),
        (8, "loser"),
    ]
    assert (loser.sequence, loser.prev_hash) == (8, stored[0].hash)
    assert chain_verify().ok
    assert AuditChainHead.objects.get().last_sequence == 8


def test_deferred_events_are_appended_together_when_the_block_ends():
    from audit.services import events_deferred

    with transaction.atomic(), events_deferred():
        first = event_record(action="channels.customer.created", actor_label="a")
        events_record_bulk(
            entries=[
                AuditEntry(action="channels.dispatch.queued", actor_label="b"),
                AuditEntry(action="channels.dispatch.queued", actor_label="c"),
            ]
        )
        # Held, not yet in the chain: the head is free meanwhile.
        assert not AuditEvent.objects.exists()
        assert first.sequence is None

    stored = list(AuditEvent.objects.order_by("sequence"))
    assert [(e.sequence, e.actor_label) for e in stored] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]
    assert first.sequence == 1
    assert AuditChainHead.objects.get().last_sequence == 3
    assert chain_verify().ok


def test_a_deferring_block_that_fails_appends_nothing():
    from audit.services import events_deferred

    with pytest.raises(ZeroDivisionError), transaction.atomic(), events_deferred():
        event_record(action="channels.customer.created")
        1 / 0  # noqa: B018
    assert not AuditEvent.objects.exists()
    event_record(action="channels.customer.created")
    assert AuditEvent.objects.get().sequence == 1
