"""Erase the personal content of dispatches, keeping their record.

What goes, by ContentPart: the stored copy (subject, HTML, text, and the SMS
file copy of the embedded setup), the letter PDF (the stored file and the
copy handed to the print vendor), the contact data (the address used, in the
row, in the print manifest and in provider errors that quote it), and the data
snapshot (the communication's data and the batch row it came from). What
stays: dates, status and its history, channel, language, template version,
content hash, provider id, attempts. Each dispatch is marked with the parts
erased, when and why, and gets one audit event.

The work goes in chunks, each its own short transaction: the chunk's rows are
locked with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL), so a row a sender
or a receipt holds is left for the next run instead of waited for, and the
outbox never waits on more than one chunk. Rows still queued or sending (or,
when the snapshot goes, whose communication has one that is) are left alone:
what is about to be sent keeps its content. Rows an active legal hold covers
are never touched. Files are deleted inside the transaction, before the audit
append: a failure leaves the row unmarked (the next run finishes it), never a
marked row whose file survived.
"""

import csv
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Replace
from django.utils import timezone

from audit.services import AuditEntry, events_record_bulk
from ccm.spreadsheets import csv_writer
from channels_app.models import (
    CONTENT_PARTS_ALL,
    BatchRow,
    Channel,
    Communication,
    ContentPart,
    Dispatch,
    DispatchAttempt,
    DispatchStatusChange,
    Escalation,
)
from retention.holds import dispatches_held, dispatches_unheld, holds_active
from retention.models import LegalHold

Status = Dispatch.Status
# Still to be sent: the content is needed.
IN_FLIGHT = (Status.QUEUED, Status.SENDING)
CHUNK_SIZE = 500
ERASED_MARK = "[erased]"
# What an erased row's fields become, by part.
BLANKS = {
    ContentPart.COPY: {"subject": "", "body_html": "", "body_text": ""},
    ContentPart.PDF: {"letter_pdf": ""},
    ContentPart.CONTACT: {"address": ""},
    ContentPart.SNAPSHOT: {},
}


@dataclass
class ErasureCount:
    """What an erasure did: dispatches erased, each part newly erased (copies
    and contacts per dispatch, PDFs per letter, snapshots per communication),
    and the dispatches left: covered by a hold, or busy (being sent, locked)."""

    dispatches: int = 0
    parts: Counter = field(default_factory=Counter)
    held: int = 0
    busy: int = 0

    def __iadd__(self, other: "ErasureCount") -> "ErasureCount":
        self.dispatches += other.dispatches
        self.parts.update(other.parts)
        self.held += other.held
        self.busy += other.busy
        return self


def parts_named(parts: int) -> list[str]:
    """Return the names of the ContentPart bits in `parts`."""
    return [part.name.lower() for part in ContentPart if parts & part]


def dispatches_content_erase(
    dispatches: QuerySet | Iterable[int],
    *,
    cause: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    reason: str = "",
    parts: int = CONTENT_PARTS_ALL,
    holds: list[LegalHold] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ErasureCount:
    """Erase `parts` of the dispatches' personal content, chunk by chunk.

    `dispatches` is a queryset or dispatch ids; `cause` an ErasureCause.
    Dispatches under an active hold (read again for every chunk, so a hold
    placed during a long erasure applies from its next chunk; or `holds` as
    given), still being sent, or locked by another transaction are counted
    and left. Erasing what is already erased does nothing.
    """
    total = ErasureCount()
    for ids in _chunks(dispatches, chunk_size):
        total += _chunk_erase(
            ids,
            parts=parts,
            cause=cause,
            actor=actor,
            actor_label=actor_label,
            reason=reason,
            holds=holds,
        )
    return total


def _chunks(dispatches: QuerySet | Iterable[int], size: int) -> Iterator[list[int]]:
    """Yield the dispatch ids in ascending chunks; a queryset is walked by id."""
    if isinstance(dispatches, QuerySet):
        ids = dispatches.order_by("id").values_list("id", flat=True)
        last = 0
        while chunk := list(ids.filter(id__gt=last)[:size]):
            yield chunk
            last = chunk[-1]
        return
    ordered = sorted(set(dispatches))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def _chunk_erase(
    ids: list[int],
    *,
    parts: int,
    cause: str,
    actor: AbstractBaseUser | None,
    actor_label: str,
    reason: str,
    holds: list[LegalHold] | None,
) -> ErasureCount:
    """Erase one chunk in one short transaction; return what it did."""
    count = ErasureCount()
    with transaction.atomic():
        holds = holds_active() if holds is None else holds
        rows = Dispatch.objects.filter(id__in=ids)
        if holds:
            count.held = dispatches_held(rows, holds).count()
        pending = list(
            dispatches_unheld(rows, holds)
            .annotate(done=F("erased_parts").bitand(parts))
            .exclude(done=parts)
            .values_list("id", flat=True)
        )
        if not pending:
            return count
        erasable = Dispatch.objects.filter(id__in=pending).exclude(status__in=IN_FLIGHT)
        if parts & ContentPart.SNAPSHOT:
            erasable = erasable.filter(
                ~Exists(
                    Dispatch.objects.filter(
                        communication_id=OuterRef("communication_id"),
                        status__in=IN_FLIGHT,
                    )
                )
            )
        locked = list(
            erasable.select_for_update(skip_locked=True, of=("self",))
            .only(
                "id",
                "channel",
                "status",
                "letter_pdf",
                "provider_message_id",
                "communication_id",
                "erased_parts",
            )
            .order_by("id")
        )
        count.busy = len(pending) - len(locked)
        if not locked:
            return count
        now = timezone.now()
        erased = _rows_erase(locked, parts=parts, cause=cause, now=now)
        count.dispatches = len(locked)
        count.parts = _parts_counted(locked, parts)
        _files_erase(locked, parts=parts, pdf_names=erased)
        events_record_bulk(
            entries=[
                AuditEntry(
                    action="retention.dispatch.erased",
                    actor=actor,
                    actor_label=actor_label,
                    subject=dispatch,
                    after={
                        "parts": parts_named(parts & ~dispatch.erased_parts),
                        "cause": cause,
                    },
                    reason=reason,
                )
                for dispatch in locked
            ]
        )
    return count


def _parts_counted(locked: list[Dispatch], parts: int) -> Counter:
    """Count what goes: copies and contacts per dispatch, PDFs per letter that
    had one, snapshots per communication."""
    counted = Counter()
    snapshots = set()
    for dispatch in locked:
        new = parts & ~dispatch.erased_parts
        counted[ContentPart.COPY] += bool(new & ContentPart.COPY)
        counted[ContentPart.CONTACT] += bool(new & ContentPart.CONTACT)
        counted[ContentPart.PDF] += bool(new & ContentPart.PDF and dispatch.letter_pdf)
        if new & ContentPart.SNAPSHOT:
            snapshots.add(dispatch.communication_id)
    counted[ContentPart.SNAPSHOT] = len(snapshots)
    return +counted


def _rows_erase(
    locked: list[Dispatch], *, parts: int, cause: str, now: datetime
) -> set[str]:
    """Blank the erased parts in the database; return the PDF names let go."""
    ids = [dispatch.pk for dispatch in locked]
    if parts & ContentPart.CONTACT:
        # Provider errors quote the address; the row's address is still there.
        address = Subquery(
            Dispatch.objects.filter(pk=OuterRef("dispatch_id")).values("address")[:1]
        )
        for model, text in (
            (DispatchAttempt, "error"),
            (DispatchStatusChange, "detail"),
            (Escalation, "reason"),
        ):
            model.objects.filter(dispatch_id__in=ids).exclude(**{text: ""}).update(
                **{text: Replace(F(text), address, Value(ERASED_MARK))}
            )
    blanks = {}
    for part, fields in BLANKS.items():
        if parts & part:
            blanks.update(fields)
    Dispatch.objects.filter(id__in=ids).update(
        error=(
            Replace(F("error"), F("address"), Value(ERASED_MARK))
            if parts & ContentPart.CONTACT
            else F("error")
        ),
        erased_parts=F("erased_parts").bitor(parts),
        content_erased_at=now,
        content_erased_cause=cause,
        **blanks,
    )
    if parts & ContentPart.SNAPSHOT:
        communications = {dispatch.communication_id for dispatch in locked}
        Communication.objects.filter(id__in=communications).update(data={})
        BatchRow.objects.filter(communication_id__in=communications).update(payload={})
    if not parts & ContentPart.PDF:
        return set()
    names = {dispatch.letter_pdf.name for dispatch in locked if dispatch.letter_pdf}
    # A resend shares its original's file: keep a file another row still holds.
    kept = set(
        Dispatch.objects.filter(letter_pdf__in=names).values_list(
            "letter_pdf", flat=True
        )
    )
    return names - kept


def _files_erase(locked: list[Dispatch], *, parts: int, pdf_names: set[str]) -> None:
    """Delete the files that copy the erased parts."""
    for name in pdf_names:
        default_storage.delete(name)
    media = Path(settings.MEDIA_ROOT).resolve()
    manifests: dict[Path, set[str]] = defaultdict(set)
    for dispatch in locked:
        if dispatch.channel == Channel.LETTER:
            handed = _print_copy(media, dispatch.provider_message_id)
            if handed is None:
                continue
            if parts & ContentPart.PDF:
                handed.unlink(missing_ok=True)
            if parts & ContentPart.CONTACT:
                manifests[handed.parent / "manifest.csv"].add(str(dispatch.pk))
        elif dispatch.channel == Channel.SMS and parts & (
            ContentPart.COPY | ContentPart.CONTACT
        ):
            sms_file = Path(settings.SMS_FILE_DIR) / f"dispatch-{dispatch.pk}.json"
            sms_file.unlink(missing_ok=True)
    for manifest, pks in manifests.items():
        _manifest_erase(manifest, pks)


def _print_copy(media: Path, provider_message_id: str) -> Path | None:
    """Return the print folder's copy a letter's provider id names, if it is one."""
    if not provider_message_id.startswith("print/"):
        return None
    path = (media / provider_message_id).resolve()
    return path if path.is_relative_to(media / "print") else None


def _manifest_erase(manifest: Path, pks: set[str]) -> None:
    """Blank the address of the given dispatches in a print manifest."""
    if not manifest.exists():
        return
    with open(manifest, newline="", encoding="utf-8") as source:
        lines = list(csv.reader(source))
    for line in lines[1:]:
        if line and line[0] in pks:
            line[1] = ""
    partial = manifest.with_suffix(".csv.erasing")
    with open(partial, "w", newline="", encoding="utf-8") as target:
        csv_writer(target).writerows(lines)
    os.replace(partial, manifest)
