"""Each field rule lives once, on the model, and every way in agrees with it."""

import pytest
from django.apps import apps

from channels_app.api_serializers import CustomerSerializer
from channels_app.batch_rows import _customer_problems
from customers.models import Customer

# Fields that store the same value: their limits must agree, or a value one
# accepts is cut off or refused by the next.
SAME_VALUE = [
    ("templates_app.Template.code", "channels_app.Communication.template_code"),
    ("templates_app.Template.code", "channels_app.Batch.template_code"),
    ("templates_app.Category.code", "channels_app.Communication.category"),
    ("templates_app.Category.code", "channels_app.PreferenceEntry.category"),
    ("channels_app.Communication.scope", "channels_app.PreferenceEntry.scope"),
    ("channels_app.Communication.source_system", "channels_app.Batch.source_system"),
    (
        "channels_app.Communication.idempotency_key",
        "channels_app.Batch.idempotency_key",
    ),
    (
        "channels_app.Communication.requester_label",
        "channels_app.Batch.requester_label",
    ),
    ("channels_app.Customer.language", "channels_app.Dispatch.language"),
    (
        "channels_app.Customer.language",
        "templates_app.TemplateVersion.default_language",
    ),
]


def _field(path: str):
    app, model, name = path.split(".")
    return apps.get_model(app, model)._meta.get_field(name)


@pytest.mark.parametrize(("first", "second"), SAME_VALUE)
def test_fields_that_store_the_same_value_have_the_same_limit(first, second):
    assert _field(first).max_length == _field(second).max_length, (first, second)


def test_a_customer_address_fits_the_suppression_list():
    longest = max(
        _field("channels_app.Customer.email").max_length,
        _field("channels_app.Customer.phone").max_length,
    )
    assert _field("channels_app.Suppression.address").max_length >= longest


BAD = {
    "external_id": "x" * 101,
    "name": "n" * 201,
    "language": "fr",
    "time_zone": "Mars/Olympus",
    "email": "not-an-email",
    "phone": "12",
}


@pytest.mark.parametrize(("field", "value"), BAD.items())
def test_the_model_the_api_and_batch_files_refuse_the_same_customer_values(
    field, value
):
    given = {"external_id": "C-1", field: value}

    by_model = Customer.field_problems(given)
    serializer = CustomerSerializer(data=given)
    serializer.is_valid()
    by_batch = {
        where.removeprefix("customer."): message
        for where, message in (
            (p.field, p.message)
            for p in _customer_problems(given, lambda f, m: _Problem(f, m))
        )
    }

    assert set(by_model) == {field}
    assert set(serializer.errors) == {field}
    assert set(by_batch) == {field}


def test_a_good_customer_passes_every_way_in():
    given = {
        "external_id": "C-1",
        "name": "Fatimah",
        "language": "ar",
        "time_zone": "Asia/Riyadh",
        "email": "f@example.com",
        "phone": "050 123 4567",
    }
    assert Customer.field_problems(given) == {}
    assert CustomerSerializer(data=given).is_valid()
    assert list(_customer_problems(given, lambda f, m: _Problem(f, m))) == []


class _Problem:
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
