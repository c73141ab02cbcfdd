"""A customer with emails, SMS, letters, a complaint and preference changes."""

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection

from ccm.roles import AGENT, RECORDS_MANAGER
from channels_app.models import Dispatch
from channels_app.outbox import outbox_pump
from console.services import feedback_record
from customers.models import Customer, PreferenceEntry
from customers.services import customer_upsert, preference_set
from tests.factories import approved_version_build, dispatch_build, user_build

NAME = "Huda Al-Qahtani"
EMAIL = "huda.qahtani@example.com"
PHONE = "+966501234567"
ADDRESS = "7 Tahlia Street, Jeddah"
NEEDLES = (NAME, EMAIL, PHONE, ADDRESS, "Huda", "Tahlia")


@dataclass
class Subject:
    customer: Customer
    dispatches: dict[str, Dispatch]
    agent: object
    dpo: object


@pytest.fixture
def dpo(db):
    return user_build(username="dpo", role=RECORDS_MANAGER)


@pytest.fixture
def subject(db, demo_templates, settings, tmp_path, dpo) -> Subject:
    """Return a customer sent an email, an SMS and a letter, who complained and
    changed their preferences, and the agent who took it down."""
    # Files older than this were written by other tests of the same worker.
    settings.SUBJECT_FILES_SINCE = time.time()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SMS_PROVIDER, settings.SMS_FILE_DIR = "file", tmp_path / "sms"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    agent = user_build(username="aisha", role=AGENT)
    customer, _created = customer_upsert(
        external_id="HQ-1", name="Huda Q", email=EMAIL, phone=PHONE
    )
    customer, _created = customer_upsert(
        external_id="HQ-1", name=NAME, postal_address=ADDRESS
    )
    version = approved_version_build(code="payment-reminder")
    sent = {}
    for channel in ("email", "sms", "letter"):
        dispatch = dispatch_build(
            version=version,
            customer=customer,
            channel=channel,
            body_text=f"Dear {NAME}, your payment of 120 SAR is due.",
            subject=f"{NAME}: your payment is due",
        )
        dispatch.communication.data = {"name": NAME, "address": ADDRESS, "amount": 120}
        dispatch.communication.save(update_fields=["data"])
        if channel == "letter":
            dispatch.letter_pdf.save(
                f"letter-{dispatch.pk}.pdf",
                ContentFile(f"%PDF-1.7 {NAME} {ADDRESS}".encode()),
                save=True,
            )
        sent[channel] = dispatch
    outbox_pump()
    for dispatch in sent.values():
        dispatch.refresh_from_db()
        assert dispatch.status == Dispatch.Status.SENT
    feedback_record(
        dispatch=sent["letter"],
        kind="complaint",
        severity="high",
        text=f"{NAME} says the letter to {ADDRESS} came twice; call {PHONE}",
        actor=agent,
    )
    preference_set(
        customer=customer,
        channel="sms",
        opted_in=False,
        source=PreferenceEntry.Source.CONTACT_CENTER,
        legal_basis=PreferenceEntry.LegalBasis.CONSENT,
        note=f"Huda asked by phone from {PHONE}",
        actor=agent,
    )
    return Subject(customer=customer, dispatches=sent, agent=agent, dpo=dpo)


def _text_columns() -> list[tuple[str, str]]:
    """Return every text or JSON column of every table, as (table, column)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type IN "
                "('text', 'character varying', 'json', 'jsonb', 'character')"
            )
            return [tuple(row) for row in cursor.fetchall()]
        tables = connection.introspection.table_names(cursor)
        columns = []
        for table in tables:
            for column in connection.introspection.get_table_description(cursor, table):
                if column.type_code.lower().startswith(("varchar", "text", "char")):
                    columns.append((table, column.name))
        return columns


def database_hits(needles=NEEDLES) -> set[tuple[str, str, str]]:
    """Return (table, column, needle) wherever a needle appears in the database."""
    hits = set()
    quote = connection.ops.quote_name
    cast = "::text" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            for needle in needles:
                cursor.execute(
                    f"SELECT 1 FROM {quote(table)} "  # noqa: S608 (names from the schema)
                    f"WHERE {quote(column)}{cast} LIKE %s LIMIT 1",
                    [f"%{needle}%"],
                )
                if cursor.fetchone():
                    hits.add((table, column, needle))
    return hits


def file_hits(needles=NEEDLES) -> set[tuple[str, str]]:
    """Return (file, needle) for every stored file under the media and var dirs
    (PDFs read as text too) where a needle appears."""
    roots = {
        Path(settings.MEDIA_ROOT),
        Path(settings.SMS_FILE_DIR),
        Path(settings.EMAIL_FILE_PATH),
        Path(settings.VAR_DIR),
    }
    since = getattr(settings, "SUBJECT_FILES_SINCE", 0)
    hits = set()
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if not path.is_file() or ".sqlite3" in path.name or path.suffix == ".sock":
                continue
            if path.stat().st_mtime < since:
                continue
            content = path.read_bytes().decode("utf-8", errors="ignore")
            if path.suffix == ".pdf":
                extracted = subprocess.run(  # noqa: S603
                    ["/usr/bin/pdftotext", str(path), "-"],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                content += extracted.stdout
            for needle in needles:
                if needle in content:
                    hits.add((str(path), needle))
    return hits
