"""The inventory job: read every template and block once, store what it found.

Each template is represented by its version in force, or by its latest version
when none is in force; each block by its latest approved version, or its latest
one. The run's rows replace the previous run's in one transaction at the end,
so the pages always read one complete run.
"""

import functools
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inventory import text
from inventory.models import (
    DuplicatePair,
    InventoryItem,
    InventoryRun,
    ParagraphCandidate,
)
from inventory.similarity import Document, pairs_find
from inventory.usage import usage_by_template
from templates_app.models import (
    EVER_APPROVED_STATUSES,
    HTML_FIELDS,
    ContentBlock,
    ContentBlockContent,
    ContentBlockVersion,
    Status,
    Template,
    TemplateVersion,
    VersionBlockPin,
    VersionContent,
)
from templates_app.recertification import certified_until

logger = logging.getLogger(__name__)
CHUNK = 900
# The fields whose text is compared; letter CSS and the plain-text twin of an
# email's HTML (derived from it when empty) are not content of their own.
COMPARED_FIELDS = {
    "email": ("subject", "html"),
    "sms": ("sms_text",),
    "letter": ("letter_html",),
}


@dataclass
class Subject:
    """A template or block with the texts the analysis reads."""

    item: InventoryItem
    sources: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    # (channel, language, field) -> its paragraphs, filled by _documents.
    paragraphs: dict[tuple[str, str, str], list] = field(default_factory=dict)


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _versions_chosen(now: datetime) -> tuple[dict[int, TemplateVersion], set[int]]:
    """Return each template's version in force (else its latest), and those in force."""
    chosen: dict[int, TemplateVersion] = {}
    in_force = (
        TemplateVersion.objects.filter(
            status__in=EVER_APPROVED_STATUSES, effective_from__lte=now
        )
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gt=now))
        .select_related("author")
        .order_by("template_id", "-effective_from")
    )
    for version in in_force:
        chosen.setdefault(version.template_id, version)
    forced = {version.pk for version in chosen.values()}
    latest = (
        TemplateVersion.objects.exclude(template_id__in=list(chosen))
        .exclude(status__in=[Status.REJECTED])
        .select_related("author")
        .order_by("template_id", "-number")
    )
    for version in latest:
        chosen.setdefault(version.template_id, version)
    return chosen, forced


def _template_subjects(run: InventoryRun, now: datetime) -> list[Subject]:
    chosen, forced = _versions_chosen(now)
    usage = usage_by_template(now)
    by_version: dict[int, Subject] = {}
    subjects = []
    for template in Template.objects.select_related("category").order_by("code"):
        version = chosen.get(template.pk)
        used = usage.get(template.code)
        in_force = version is not None and version.pk in forced
        item = InventoryItem(
            run=run,
            kind=InventoryItem.Kind.TEMPLATE,
            template=template,
            code=template.code,
            name=template.name,
            category=template.category.name,
            owner=version.author.get_username() if version else "",
            channels=", ".join(template.channels),
            version=version if in_force else None,
            version_number=version.number if in_force else None,
            last_approved=version.decided_at if in_force else None,
            sent_30=used.sent_30 if used else 0,
            sent_365=used.sent_365 if used else 0,
            last_sent=used.last_sent if used else None,
            complaints_365=used.complaints_365 if used else 0,
            complaint_rate=used.complaint_rate if used else None,
        )
        subject = Subject(item=item)
        subjects.append(subject)
        if version is not None:
            by_version[version.pk] = subject
    ids = list(by_version)
    certified = certified_until([s.item.version for s in subjects if s.item.version])
    for subject in subjects:
        if subject.item.version_id:
            subject.item.certified_until = certified.get(subject.item.version_id)
    columns = sorted({name for names in COMPARED_FIELDS.values() for name in names})
    for chunk in _chunks(ids):
        rows = VersionContent.objects.filter(version_id__in=chunk).values_list(
            "version_id", "channel", "language", *columns
        )
        for version_id, channel, language, *values in rows:
            fields = dict(zip(columns, values, strict=True))
            by_version[version_id].sources[(channel, language)] = {
                name: fields[name] for name in COMPARED_FIELDS[channel]
            }
        pins = VersionBlockPin.objects.filter(version_id__in=chunk).values_list(
            "version_id", "block_version__block__code"
        )
        blocks = defaultdict(set)
        for version_id, code in pins:
            blocks[version_id].add(code)
        for version_id, codes in blocks.items():
            by_version[version_id].item.blocks = ", ".join(sorted(codes))[:500]
    for subject in subjects:
        subject.item.languages = ", ".join(
            sorted({lang for _c, lang in subject.sources})
        )
    return subjects


def _block_subjects(run: InventoryRun, templates: list[Subject]) -> list[Subject]:
    chosen: dict[int, ContentBlockVersion] = {}
    for version in ContentBlockVersion.objects.select_related("author").order_by(
        "block_id", "-number"
    ):
        best = chosen.get(version.block_id)
        if best is None or (
            version.status == Status.APPROVED and best.status != Status.APPROVED
        ):
            chosen[version.block_id] = version
    users: dict[str, list[Subject]] = defaultdict(list)
    for subject in templates:
        if subject.item.version_id:
            for code in filter(None, subject.item.blocks.split(", ")):
                users[code].append(subject)
    subjects = []
    by_version: dict[int, Subject] = {}
    for block in ContentBlock.objects.order_by("code"):
        version = chosen.get(block.pk)
        approved = version is not None and version.status == Status.APPROVED
        using = users.get(block.code, [])
        item = InventoryItem(
            run=run,
            kind=InventoryItem.Kind.BLOCK,
            block=block,
            code=block.code,
            name=block.name,
            owner=version.author.get_username() if version else "",
            version_number=version.number if approved else None,
            last_approved=version.decided_at if approved else None,
            used_by=len(using),
            sent_30=sum(s.item.sent_30 for s in using),
            sent_365=sum(s.item.sent_365 for s in using),
            last_sent=max(
                (s.item.last_sent for s in using if s.item.last_sent), default=None
            ),
        )
        subject = Subject(item=item)
        subjects.append(subject)
        if version is not None:
            by_version[version.pk] = subject
    for content in ContentBlockContent.objects.filter(version_id__in=list(by_version)):
        by_version[content.version_id].sources[("block", content.language)] = {
            "html": content.html
        }
    for subject in subjects:
        subject.item.languages = ", ".join(
            sorted({lang for _c, lang in subject.sources})
        )
    return subjects


def _documents(subjects: list[Subject]) -> list[Document]:
    documents = []
    for index, subject in enumerate(subjects):
        for (channel, language), fields in subject.sources.items():
            paragraphs = []
            for name in COMPARED_FIELDS.get(channel, ("html",)):
                found = text.paragraphs(fields.get(name, ""))
                subject.paragraphs[(channel, language, name)] = found
                paragraphs.extend(found)
            if paragraphs:
                documents.append(
                    Document(
                        owner=index, slot=(channel, language), paragraphs=paragraphs
                    )
                )
    return documents


def _paragraph_candidates(
    run: InventoryRun, subjects: list[Subject]
) -> list[ParagraphCandidate]:
    """Return the paragraphs found in two templates or more.

    Paragraphs meet by their words (`text.words_key`), read from what
    `_documents` parsed; only those that qualify are looked up as written.
    """
    found: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for subject in subjects:
        template = subject.item.template
        for (channel, language, name), paragraphs in subject.paragraphs.items():
            if name == "subject":
                continue
            for paragraph in paragraphs:
                if paragraph.named.startswith("⟨block ") and paragraph.named.endswith(
                    "⟩"
                ):
                    continue
                key = text.words_key(paragraph.named)
                if key is not None:
                    found[(key, language)].append(
                        {
                            "template": template.pk,
                            "code": template.code,
                            "channel": channel,
                            "field": name,
                        }
                    )
    by_template = {s.item.template.pk: s for s in subjects}

    @functools.cache
    def written(template: int, channel: str, language: str, name: str) -> dict:
        """Return a field's paragraphs as written, by key (parsed once per field)."""
        source = by_template[template].sources[(channel, language)][name]
        return {
            text.paragraph_key(raw): raw
            for raw in text.raw_paragraphs(source, is_html=name in HTML_FIELDS)
        }

    candidates = []
    for (key, language), occurrences in found.items():
        templates = {o["template"] for o in occurrences}
        if len(templates) < 2:
            continue
        first = occurrences[0]
        source = written(
            first["template"], first["channel"], language, first["field"]
        ).get(key)
        if source is None:  # a paragraph inside a larger element: not extractable
            continue
        candidates.append(
            ParagraphCandidate(
                run=run,
                key=key,
                language=language,
                text=text.plain(source)[:2000],
                source=source,
                template_count=len(templates),
                occurrences=occurrences,
            )
        )
    return candidates


def inventory_analyse(
    *, threshold: float = 0.8, requested_by: AbstractBaseUser | None = None
) -> InventoryRun:
    """Analyse every template and block; store the run's rows in place of the last."""
    if not 0.5 <= threshold <= 1:
        raise ValueError("the similarity threshold is between 0.5 and 1")
    started = time.perf_counter()
    run = InventoryRun.objects.create(threshold=threshold, requested_by=requested_by)
    try:
        now = timezone.now()
        templates = _template_subjects(run, now)
        blocks = _block_subjects(run, templates)
        template_docs = _documents(templates)
        block_docs = _documents(blocks)
        candidates = _paragraph_candidates(run, templates)
        template_pairs = pairs_find(template_docs, threshold=threshold)
        block_pairs = pairs_find(block_docs, threshold=threshold)
        with transaction.atomic():
            items = [s.item for s in templates + blocks]
            InventoryItem.objects.bulk_create(items, batch_size=500)
            rows = []
            for subjects, pairs, kind in (
                (templates, template_pairs, InventoryItem.Kind.TEMPLATE),
                (blocks, block_pairs, InventoryItem.Kind.BLOCK),
            ):
                sizes: dict[int, set[int]] = defaultdict(set)
                for pair in pairs:
                    sizes[pair.cluster].update((pair.left, pair.right))
                for pair in pairs:
                    rows.append(
                        DuplicatePair(
                            run=run,
                            kind=kind,
                            left=subjects[pair.left].item,
                            right=subjects[pair.right].item,
                            similarity=pair.similarity,
                            difference=pair.difference,
                            slots=pair.slots,
                            cluster=subjects[pair.cluster].item.pk,
                            cluster_size=len(sizes[pair.cluster]),
                        )
                    )
            DuplicatePair.objects.bulk_create(rows, batch_size=500)
            ParagraphCandidate.objects.bulk_create(candidates, batch_size=500)
            run.status = InventoryRun.Status.FINISHED
            run.finished = timezone.now()
            run.seconds = round(time.perf_counter() - started, 2)
            run.items = len(items)
            run.documents = len(template_docs) + len(block_docs)
            run.pairs = len(rows)
            run.save()
            # Earlier runs go, and runs left "running" by a worker that died.
            InventoryRun.objects.exclude(pk=run.pk).exclude(
                status=InventoryRun.Status.RUNNING,
                started__gte=run.started - timedelta(hours=6),
            ).delete()
    except Exception as exc:
        logger.exception("inventory run %s failed", run.pk)
        run.status = InventoryRun.Status.FAILED
        run.finished = timezone.now()
        run.error = f"{type(exc).__name__}: {exc}"[:2000]
        run.save(update_fields=["status", "finished", "error"])
        raise
    logger.info(
        "inventory run %s: %s items, %s pairs in %.1f s",
        run.pk,
        run.items,
        run.pairs,
        run.seconds,
    )
    return run
