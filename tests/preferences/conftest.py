"""Builders for the preference tests: a marketing template, a customer, links."""

import pytest

from customers.services import customer_upsert

OFFER = {
    "code": "card-offer",
    "name": "Card offer",
    "category": "offers",
    "description": "A credit card offer.",
    "channels": ["email", "sms"],
    "default_language": "en",
    "data_schema": {"type": "object"},
    "sample_data": {"offer": "card"},
    "contents": [
        (
            "email",
            "en",
            {"subject": "A card for you", "html": "<p>Our new card.</p>", "text": ""},
        ),
        (
            "email",
            "ar",
            {"subject": "بطاقة لك", "html": "<p>بطاقتنا الجديدة.</p>", "text": ""},
        ),
        ("sms", "en", {"sms_text": "Gulf Mutual: our new card."}),
        ("sms", "ar", {"sms_text": "الخليج للتأمين: بطاقتنا الجديدة."}),
    ],
}


@pytest.fixture
def offers(demo_templates):
    """A marketing category "offers" with an approved email and SMS template."""
    from django.contrib.auth import get_user_model

    from templates_app import selectors, services
    from templates_app.categories import category_create
    from templates_app.demo import _approve, _grant, _template_create
    from templates_app.models import Category

    users = get_user_model().objects
    author = users.get(username="demo-author")
    reviewer = users.get(username="demo-reviewer")
    category = Category.objects.filter(code="offers").first() or category_create(
        actor=None, code="offers", name="Offers", name_ar="العروض", kind="marketing"
    )
    _grant(category, selectors.AUTHOR, author)
    _grant(category, selectors.REVIEW, reviewer)
    template = _template_create(OFFER, category, author)
    version = template.versions.get(number=1)
    services.version_submit(version=version, actor=author)
    _approve(version, [reviewer])
    return template


@pytest.fixture
def customer(db):
    customer, _ = customer_upsert(
        external_id="CUST-77001",
        name="Reem Al-Harbi",
        email="reem.harbi@example.com",
        phone="0501234567",
        language="ar",
        postal_address="12 King Fahd Road\nRiyadh 12271",
    )
    return customer


def opt_in(customer, category: str, channel: str = "any") -> None:
    """Record the customer's marketing opt-in, as an upstream system would."""
    from customers.models import PreferenceEntry
    from customers.services import preference_set

    preference_set(
        customer=customer,
        channel=channel,
        category=category,
        opted_in=True,
        source=PreferenceEntry.Source.API,
        legal_basis=PreferenceEntry.LegalBasis.CONSENT,
    )
