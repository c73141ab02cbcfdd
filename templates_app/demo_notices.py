"""Demo notices the product itself sends: the answer to an SMS STOP.

`channels_app.inbound` answers a STOP with the template named by
SMS_STOP_CONFIRMATION_TEMPLATE, a mandatory notice (security category) so
that it goes out even though the customer has just opted out of SMS.
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


def demo_notices_seed(
    *, author: AbstractBaseUser, reviewer: AbstractBaseUser
) -> list[Template]:
    """Create and approve the product's own notices unless they exist."""
    spec = stop_confirmation_spec()
    return approved_templates_seed(
        [spec], category_code=spec["category"], author=author, reviewer=reviewer
    )
