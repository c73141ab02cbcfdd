"""What awaits a reviewer: the versions they may approve now, oldest first.

A template or block version is in a reviewer's queue when it is in review
and the workflow's own guards (`workflow.refusal`) would let them approve it:
in a category they review, not written or edited by them (nor any earlier
version of its lineage), not already approved by them in this submission.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _

from templates_app import selectors, workflow
from templates_app.models import (
    CHANNEL_FIELDS,
    Category,
    ContentBlockVersion,
    Status,
    TemplateVersion,
    WorkflowVersion,
)
from templates_app.permissions import BLOCK_REVIEW
from templates_app.version_settings import settings_rows


@dataclass
class QueueItem:
    """One version awaiting the reviewer, with what they need to pick it up."""

    version: WorkflowVersion
    kind: str
    category: Category | None
    submitted_at: datetime
    approvals: int
    required: int
    changes: list[str] = field(default_factory=list)

    @property
    def is_block(self) -> bool:
        return self.kind == "block"


def _content_changes(before, after, keys) -> list[str]:
    """Return "email/en changed"-style lines for content rows that differ."""
    lines = []
    for key in sorted(set(before) | set(after)):
        place = "/".join(keys(key))
        if key not in before:
            lines.append(_("%(place)s added") % {"place": place})
        elif key not in after:
            lines.append(_("%(place)s removed") % {"place": place})
        elif before[key] != after[key]:
            lines.append(_("%(place)s changed") % {"place": place})
    return lines


def _version_text(version: TemplateVersion | None) -> dict:
    if version is None:
        return {}
    return {
        (c.channel, c.language): tuple(
            getattr(c, name) for name in CHANNEL_FIELDS[c.channel]
        )
        for c in version.contents.all()
    }


def version_changes(version: TemplateVersion) -> list[str]:
    """Return what a version changes against the one in force (or its base)."""
    in_force = selectors.version_in_force(version.template)
    against = in_force if in_force and in_force.pk != version.pk else None
    against = against or version.based_on
    if against is None:
        return [_("New template")]
    settings = [
        str(row.label) for row in settings_rows(against, version) if row.changed
    ]
    lines = (
        [_("Settings: %(settings)s") % {"settings": ", ".join(settings)}]
        if settings
        else []
    )
    lines += _content_changes(
        _version_text(against), _version_text(version), lambda key: key
    )
    return lines or [_("No change of content or settings")]


def block_changes(block_version: ContentBlockVersion) -> list[str]:
    """Return what a block version changes against the block's approved one."""
    previous = (
        block_version.block.versions.filter(
            status__in=(Status.APPROVED, Status.SUPERSEDED),
            number__lt=block_version.number,
        )
        .order_by("-number")
        .first()
    )
    if previous is None:
        return [_("New block")]

    def text(version):
        return {c.language: (c.html, c.text) for c in version.contents.all()}

    lines = _content_changes(text(previous), text(block_version), lambda key: [key])
    return lines or [_("No change of content")]


def review_queue(user: AbstractBaseUser) -> list[QueueItem]:
    """Return the versions the user may approve now, the longest waiting first."""
    if not user.is_active:
        return []
    candidates: list[WorkflowVersion] = list(
        TemplateVersion.objects.filter(
            status=Status.IN_REVIEW,
            category_id__in=selectors.category_ids_for(user, selectors.REVIEW),
        )
        .exclude(author_id=user.pk)
        .select_related("template", "category", "author", "based_on")
    )
    if user.has_perm(BLOCK_REVIEW):
        candidates += list(
            ContentBlockVersion.objects.filter(status=Status.IN_REVIEW)
            .exclude(author_id=user.pk)
            .select_related("block__category", "author")
        )
    now = timezone.now()
    items = []
    for version in candidates:
        if workflow.refusal(version, "approve", user) is not None:
            continue
        kind = workflow.kind_of(version)
        is_block = isinstance(version, ContentBlockVersion)
        items.append(
            QueueItem(
                version=version,
                kind="block" if is_block else "template",
                category=kind.category(version),
                submitted_at=version.submitted_at or now,
                approvals=selectors.approvals_current(version).count(),
                required=kind.required_approvals(version),
                changes=block_changes(version)
                if is_block
                else version_changes(version),
            )
        )
    items.sort(key=lambda item: (item.submitted_at, item.kind, item.version.pk))
    return items
