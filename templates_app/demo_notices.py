"""Demo notices the product itself sends: the answer to an SMS STOP, a fresh link.

`channels_app.inbound` answers a STOP with the template named by
SMS_STOP_CONFIRMATION_TEMPLATE, and the preference centre sends a fresh link
to a customer with no email address on file with PREFERENCE_LINK_SMS_TEMPLATE.
Both are mandatory notices (security category), so they go out even though
the customer has opted out of SMS marketing.
"""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from templates_app.demo_duplicates import approved_templates_seed
from templates_app.models import Template


def stop_confirmation_spec() -> dict:
    return {
        "code": settings.SMS_STOP_CONFIRMATION_TEMPLATE,
        "name": "SMS stop confirmation",
        "category": "security",
        "description": "Confirms a customer's STOP reply: no more marketing texts.",
        "channels": ["sms"],
        "default_language": "en",
        "data_schema": {"type": "object", "properties": {}},
        # Nothing to fill in; the sample only shows the preview works.
        "sample_data": {"preview": True},
        "contents": [
            (
                "sms",
                "en",
                {
                    "sms_text": "Gulf Mutual: you will get no more marketing texts."
                    " Service and security messages continue."
                },
            ),
            (
                "sms",
                "ar",
                {
                    "sms_text": "الخليج للتأمين: لن تصلك رسائل تسويقية نصية بعد الآن."
                    " تستمر رسائل الخدمة والأمان."
                },
            ),
        ],
    }


def preference_link_spec() -> dict:
    return {
        "code": settings.PREFERENCE_LINK_SMS_TEMPLATE,
        "name": "SMS preference-centre link",
        "category": "security",
        "description": "A fresh preference-centre link, asked for from an expired one.",
        "channels": ["sms"],
        "default_language": "en",
        "data_schema": {
            "type": "object",
            "properties": {"link": {"type": "string", "format": "uri"}},
            "required": ["link"],
        },
        "sample_data": {"link": "https://ccm.example.com/p/sample/"},
        "contents": [
            (
                "sms",
                "en",
                {
                    "sms_text": "Gulf Mutual: manage your communication preferences"
                    " here: {{ link }}"
                },
            ),
            (
                "sms",
                "ar",
                {"sms_text": "الخليج للتأمين: اختر ما يصلك منا من هنا: {{ link }}"},
            ),
        ],
    }


def demo_notices_seed(
    *, author: AbstractBaseUser, reviewer: AbstractBaseUser
) -> list[Template]:
    """Create and approve the product's own notices unless they exist."""
    specs = [stop_confirmation_spec(), preference_link_spec()]
    return approved_templates_seed(
        specs, category_code="security", author=author, reviewer=reviewer
    )
