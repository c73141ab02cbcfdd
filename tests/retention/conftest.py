"""Builders for retention tests: sent dispatches on every channel, with files."""

import pytest
from django.core.files.base import ContentFile

from channels_app.models import Dispatch
from channels_app.outbox import outbox_pump
from customers.services import customer_upsert
from tests.factories import approved_version_build, dispatch_build


@pytest.fixture
def channels_sent(db, demo_templates, settings, tmp_path):
    """Return a builder of one customer's sent email, SMS and letter."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SMS_PROVIDER, settings.SMS_FILE_DIR = "file", tmp_path / "sms"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    def build(n: int, *, code: str = "payment-reminder") -> dict[str, Dispatch]:
        customer, _ = customer_upsert(
            external_id=f"R-{n}",
            name=f"Noura Alharbi {n}",
            email=f"noura{n}@example.com",
            phone=f"+96650123{n:04d}",
            postal_address=f"{n} Olaya Street, Riyadh",
        )
        version = approved_version_build(code=code)
        sent = {}
        for channel in ("email", "sms", "letter"):
            dispatch = dispatch_build(
                version=version, customer=customer, channel=channel
            )
            dispatch.communication.data = {"name": customer.name, "amount": 120}
            dispatch.communication.save(update_fields=["data"])
            if channel == "letter":
                dispatch.letter_pdf.save(
                    f"letter-{dispatch.pk}.pdf",
                    ContentFile(b"%PDF-1.7 " + customer.name.encode()),
                    save=True,
                )
            sent[channel] = dispatch
        outbox_pump()
        for dispatch in sent.values():
            dispatch.refresh_from_db()
            assert dispatch.status == Dispatch.Status.SENT
        return sent

    return build
