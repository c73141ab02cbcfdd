"""Reads of the stored inventory: the latest finished run and its rows."""

import difflib
from dataclasses import dataclass

from django.db.models import QuerySet

from inventory import text
from inventory.analysis import COMPARED_FIELDS
from inventory.models import (
    DuplicatePair,
    InventoryItem,
    InventoryRun,
    ParagraphCandidate,
)
from templates_app.models import (
    CHANNEL_FIELDS,
    ContentBlockContent,
    Status,
    VersionContent,
)


def run_latest() -> InventoryRun | None:
    """Return the latest finished run, the one the pages show."""
    return (
        InventoryRun.objects.filter(status=InventoryRun.Status.FINISHED)
        .order_by("-finished", "-pk")
        .first()
    )


def _of_latest(queryset: QuerySet) -> QuerySet:
    run = run_latest()
    return queryset.filter(run=run) if run else queryset.none()


def items() -> QuerySet[InventoryItem]:
    return _of_latest(
        InventoryItem.objects.select_related("template__category", "block")
    )


def pairs() -> QuerySet[DuplicatePair]:
    return _of_latest(DuplicatePair.objects.select_related("left", "right"))


def candidates() -> QuerySet[ParagraphCandidate]:
    return _of_latest(ParagraphCandidate.objects.all())


@dataclass
class ComparedRow:
    """One aligned paragraph of a side-by-side comparison."""

    left: str
    right: str
    change: str  # equal, replace, insert, delete


@dataclass
class ComparedSlot:
    slot: str
    similarity: float | None
    rows: list[ComparedRow]


def _sources(item: InventoryItem) -> dict[str, str]:
    """Return the item's compared text per slot ("channel/language").

    The versions are those the analysis reads: a block's latest approved (else
    latest) version, a template's version in force (else its latest).
    """
    sources: dict[str, str] = {}
    if item.kind == InventoryItem.Kind.BLOCK:
        versions = item.block.versions.order_by("-number") if item.block else None
        version = versions and (
            versions.filter(status=Status.APPROVED).first() or versions.first()
        )
        for content in ContentBlockContent.objects.filter(version=version):
            sources[f"block/{content.language}"] = content.html
        return sources
    version = item.version or (
        item.template.versions.exclude(status=Status.REJECTED)
        .order_by("-number")
        .first()
        if item.template
        else None
    )
    for content in VersionContent.objects.filter(version=version):
        names = [
            n
            for n in COMPARED_FIELDS[content.channel]
            if n in CHANNEL_FIELDS[content.channel]
        ]
        sources[f"{content.channel}/{content.language}"] = "\n".join(
            getattr(content, name) for name in names
        )
    return sources


def comparison(pair: DuplicatePair) -> list[ComparedSlot]:
    """Return the two sides of a pair paragraph by paragraph, slot by slot."""
    left, right = _sources(pair.left), _sources(pair.right)
    slots = []
    for slot in sorted(set(left) | set(right)):
        a = text.readable_paragraphs(left.get(slot, ""))
        b = text.readable_paragraphs(right.get(slot, ""))
        rows = []
        matcher = difflib.SequenceMatcher(
            None,
            [p.masked for p in text.paragraphs(left.get(slot, ""))],
            [p.masked for p in text.paragraphs(right.get(slot, ""))],
            autojunk=False,
        )
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            for k in range(max(i2 - i1, j2 - j1)):
                rows.append(
                    ComparedRow(
                        left=a[i1 + k] if i1 + k < i2 else "",
                        right=b[j1 + k] if j1 + k < j2 else "",
                        change=tag,
                    )
                )
        slots.append(
            ComparedSlot(slot=slot, similarity=pair.slots.get(slot), rows=rows)
        )
    return slots
