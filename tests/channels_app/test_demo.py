"""The demo data shows customers with preferences and dispatches in every status."""

import pytest

from channels_app.demo import demo_seed
from channels_app.models import Dispatch, Escalation
from customers.models import Customer, PreferenceEntry
from tests.factories import demo_templates_approved, user_build

pytestmark = pytest.mark.django_db


def test_demo_has_dispatches_in_every_status(settings, tmp_path):
    settings.SMS_FILE_DIR, settings.MEDIA_ROOT = tmp_path / "sms", tmp_path / "media"
    demo_templates_approved()

    total = demo_seed(operator=user_build(username="op"), customers=20, dispatches=120)

    statuses = set(Dispatch.objects.values_list("status", flat=True))
    assert statuses >= {
        "queued",
        "sent",
        "delivered",
        "bounced",
        "failed",
        "suppressed",
        "cancelled",
    }
    assert total == Dispatch.objects.count() >= 120
    assert Customer.objects.filter(language="ar").exists()
    assert PreferenceEntry.objects.filter(note="paperless").exists()
    assert Escalation.objects.exists()
    # Seeding again adds nothing.
    assert demo_seed(operator=user_build(username="op2")) == total


def test_demo_has_a_finished_batch_with_refused_rows(settings, tmp_path):
    from channels_app.batches import batch_row_problems
    from channels_app.models import Batch

    settings.SMS_FILE_DIR, settings.MEDIA_ROOT = tmp_path / "sms", tmp_path / "media"
    demo_templates_approved()

    demo_seed(operator=user_build(username="op"), customers=12, dispatches=10)

    batch = Batch.objects.get()
    assert batch.status == Batch.Status.DONE
    assert (batch.total, batch.accepted, batch.refused) == (13, 10, 3)
    assert [p["line"] for p in batch_row_problems(batch=batch)] == [12, 13, 14]
