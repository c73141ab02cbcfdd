"""`rows_update` saves the fields named, of the rows given, as bulk_update does."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from ccm.bulk import rows_update
from channels_app.api_models import TriggerIntake
from customers.models import Customer

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_and_nothing_else_changes():
    customers = [
        Customer.objects.create(external_id=f"RU-{n}", name=f"Before {n}")
        for n in range(4)
    ]
    later = timezone.now() + timedelta(days=1)
    for n, customer in enumerate(customers[:3]):
        customer.name = f"Ÿ after {n} 'quoted' \"twice\""
        customer.language = "ar"
        customer.erased_at = later if n == 1 else None
        customer.email = "not saved@example.com"

    rows_update(customers[:3], ["name", "language", "erased_at"])

    saved = {
        c.external_id: c for c in Customer.objects.filter(external_id__startswith="RU-")
    }
    for n in range(3):
        row = saved[f"RU-{n}"]
        assert row.name == f"Ÿ after {n} 'quoted' \"twice\""
        assert row.language == "ar"
        assert row.erased_at == (later if n == 1 else None)
        assert row.email == ""  # not among the fields named
    assert saved["RU-3"].name == "Before 3"


def test_json_values_and_a_cleared_foreign_key_are_saved_as_given():
    client = get_user_model().objects.create(username="ru-client")
    intakes = [
        TriggerIntake.objects.create(
            client=client, idempotency_key=f"k{n}", payload={"data": {"n": n}}
        )
        for n in range(2)
    ]
    intakes[0].problems = {"data": [{"code": "x", "detail": 'ä \\ "q"'}]}
    intakes[0].payload = {}
    intakes[1].payload = {"kept": [1, 2.5, None, True]}

    rows_update(intakes, ["problems", "payload", "communication"])

    first, second = TriggerIntake.objects.order_by("idempotency_key")
    assert first.problems == {"data": [{"code": "x", "detail": 'ä \\ "q"'}]}
    assert first.payload == {}
    assert second.payload == {"kept": [1, 2.5, None, True]}
    assert second.problems == {} and second.communication_id is None
