"""The rules' audit vocabulary, and one rendering for every channel of a message."""

import pytest

from audit import vocabulary
from channels_app.models import Dispatch
from tests.rules.conftest import at, sms_quiet_hours, trigger

OUTCOMES = ["deferred", "capped", "superseded", "deduplicated", "held", "exempted"]


def test_every_rule_action_is_registered_with_a_description():
    verbs = ("proposed", "approved", "rejected", "withdrawn")
    # Kept for the events written before rule changes were reviewed.
    verbs += ("created", "changed", "deleted")
    names = [f"rules.rule.{verb}" for verb in verbs]
    names += [f"rules.dispatch.{outcome}" for outcome in OUTCOMES]

    assert all(vocabulary.action_get(name).description for name in names)


@pytest.mark.django_db
def test_a_message_held_on_one_channel_keeps_one_version_and_snapshot(
    templates, customer
):
    """The rules defer the SMS, not the email; both say the same thing."""
    sms_quiet_hours()

    communication = trigger(
        customer, channels=["email", "sms"], scheduled_for=at("2027-06-01 23:00")
    )

    email, sms = communication.dispatches.order_by("channel")
    assert (email.channel, sms.channel) == ("email", "sms")
    assert email.status == sms.status == Dispatch.Status.QUEUED
    assert sms.due_at > email.due_at
    assert "MT-204518" in email.body_text and "MT-204518" in sms.body_text
    assert communication.template_version.number == 1
    assert {d.communication_id for d in (email, sms)} == {communication.pk}
