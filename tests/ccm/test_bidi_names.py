"""Names may not hold direction controls; one stored before shows them (issue 24).

U+202E (right-to-left override) shows what follows backwards: "Reem
\u202emoc.evil" reads as another name than the one stored.
"""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccm.roles import AGENT, API_CLIENT
from customers.models import Customer
from customers.services import customer_upsert
from templates_app.models import Category
from tests.factories import user_build

pytestmark = pytest.mark.django_db

SPOOF = "Reem \u202eharbi\u202c"


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200f"])
def test_a_customer_name_with_a_direction_control_is_refused(char):
    with pytest.raises(ValidationError) as refused:
        customer_upsert(external_id="CUST-BIDI", name=f"Reem{char}Harbi", language="en")

    [error] = refused.value.error_dict["name"]
    assert error.code == "bidi_control"
    assert f"U+{ord(char):04X}" in error.messages[0]
    assert not Customer.objects.filter(external_id="CUST-BIDI").exists()


def test_arabic_and_latin_names_without_controls_are_kept():
    customer, _ = customer_upsert(
        external_id="CUST-BIDI", name="ريم Al-Harbi", language="ar"
    )
    assert customer.name == "ريم Al-Harbi"


def test_the_api_answers_400_naming_the_field_and_the_character():
    system = user_build(username="bidi-api", is_staff=False)
    from django.contrib.auth.models import Group

    system.groups.add(Group.objects.get(name=API_CLIENT))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")

    response = api.put(
        "/api/v1/customers/CUST-BIDI",
        {"name": SPOOF, "language": "en"},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "U+202E" in response.content.decode()
    assert "name" in response.json()


def test_category_and_template_names_refuse_them_in_either_language():
    category = Category(name="Marketing", name_ar="تسويق\u202e", code="bidi")

    with pytest.raises(ValidationError) as refused:
        category.full_clean()

    assert set(refused.value.error_dict) >= {"name_ar"}


def test_a_name_stored_before_shows_its_controls_in_console_and_admin(client):
    customer, _ = customer_upsert(
        external_id="CUST-BIDI", name="Reem Harbi", language="en"
    )
    # Stored before the rule: written behind the field rule's back.
    Customer.objects.filter(pk=customer.pk).update(name=SPOOF)
    client.force_login(user_build(username="bidi-agent", role=AGENT))

    results = client.post("/agent/", {"q": "CUST-BIDI"}, follow=True)
    page = client.get(f"/agent/customers/{customer.pk}/").content.decode()

    for html in (results.content.decode(), page):
        assert "Reem [U+202E]harbi[U+202C]" in html
        assert "\u202e" not in html
    client.force_login(user_build(username="bidi-root", is_superuser=True))
    admin = client.get("/admin/channels_app/customer/").content.decode()
    assert "[U+202E]" in admin and "\u202e" not in admin
