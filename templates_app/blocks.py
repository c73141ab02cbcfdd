"""Writing content blocks: the block, its drafts, and drafts of dependents."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import event_record
from templates_app import rendering, selectors
from templates_app.drafting import changes, version_draft_create
from templates_app.errors import (
    AuthoringError,
    AuthoringForbidden,
    VersionNotEditable,
    WorkflowRefused,
)
from templates_app.hashing import block_version_hash
from templates_app.models import (
    OPEN_STATUSES,
    ContentBlock,
    ContentBlockContent,
    ContentBlockVersion,
    Status,
    TemplateVersion,
)
from templates_app.permissions import block_author_check

BLOCK_AUDIT_FIELDS = ("code", "name", "name_ar", "description", "category")


def block_snapshot(block: ContentBlock) -> dict:
    """Return the audited fields of a block, its category by code."""
    return {
        name: (block.category.code if block.category_id else None)
        if name == "category"
        else getattr(block, name)
        for name in BLOCK_AUDIT_FIELDS
    }


def block_save(*, block: ContentBlock, actor: AbstractBaseUser | None) -> ContentBlock:
    """Create or change a content block's code, name, description and category.

    The code never changes: templates include the block by it, and the hashes
    of its versions cover it. The category, whose required approvals its
    versions need, does not change while a version is in review.
    """
    codename = "change_contentblock" if block.pk else "add_contentblock"
    if actor is not None and not (
        actor.is_active and actor.has_perm(f"templates_app.{codename}")
    ):
        raise AuthoringForbidden(
            _("%(user)s may not edit content blocks.") % {"user": actor}
        )
    with transaction.atomic():
        stored = None
        if block.pk is not None:
            stored = ContentBlock.objects.select_for_update().get(pk=block.pk)
            if stored.code != block.code:
                raise AuthoringError(
                    _(
                        "A content block's code cannot change: templates include "
                        "it by its code. Create a new block."
                    )
                )
            if (
                stored.category_id != block.category_id
                and block.versions.filter(status=Status.IN_REVIEW).exists()
            ):
                raise AuthoringError(
                    _(
                        "A version of this block is in review under the approvals "
                        "its category requires; its category can change once "
                        "the review is decided or withdrawn."
                    )
                )
        block.full_clean()
        before = block_snapshot(stored) if stored is not None else None
        after = block_snapshot(block)
        if before == after:
            return block
        block._change_reason = _("Saved by %(user)s") % {"user": actor}
        block._history_user = actor
        block.save()
        if before is None:
            event_record(
                action="templates.content_block.created",
                actor=actor,
                subject=block,
                after=after,
            )
        else:
            changed_before, changed_after = changes(before, after)
            event_record(
                action="templates.content_block.changed",
                actor=actor,
                subject=block,
                before=changed_before,
                after=changed_after,
            )
    return block


def block_draft_create(
    *, block: ContentBlock, author: AbstractBaseUser
) -> ContentBlockVersion:
    """Start a new block draft, copying the block's latest version."""
    block_author_check(author)
    with transaction.atomic():
        ContentBlock.objects.select_for_update().get(pk=block.pk)
        existing = block.versions.filter(status__in=OPEN_STATUSES).first()
        if existing is not None:
            raise AuthoringError(
                _(
                    "Version %(number)s is already %(status)s; finish it before "
                    "starting another draft."
                )
                % {"number": existing.number, "status": existing.get_status_display()}
            )
        previous = block.versions.order_by("-number").first()
        version = ContentBlockVersion(
            block=block, number=(previous.number + 1) if previous else 1, author=author
        )
        version._change_reason = _("Draft started")
        version._history_user = author
        version.save()
        if previous is not None:
            for content in previous.contents.all():
                copy = ContentBlockContent(
                    version=version,
                    language=content.language,
                    html=content.html,
                    text=content.text,
                )
                copy._history_user = author
                copy.save()
        version.content_hash = block_version_hash(version)
        version.save(update_fields=["content_hash", "updated"])
        event_record(
            action="templates.block.created",
            actor=author,
            subject=version,
            after={"status": version.status, "number": version.number},
        )
    return version


def block_content_problems(contents: Iterable[tuple[str, str, str]]) -> list[str]:
    """Return why block content (language, html, text) cannot be used."""
    problems = []
    for language, html, text in contents:
        for name, source in (("html", html), ("text", text)):
            try:
                tree = rendering.parse(source or "", html=name == "html")
                if rendering.blocks_used(tree):
                    problems.append(
                        f"{language}/{name}: "
                        + _("A content block cannot include another block.")
                    )
            except rendering.RenderError as exc:
                problems.append(f"{language}/{name}: {exc}")
    return problems


def block_content_save(
    *,
    block_version: ContentBlockVersion,
    contents: list[tuple[str, str, str]],
    actor: AbstractBaseUser,
) -> ContentBlockVersion:
    """Replace a block draft's content (language, html, text) and rehash it."""
    block_author_check(actor)
    with transaction.atomic():
        block_version = ContentBlockVersion.objects.select_for_update().get(
            pk=block_version.pk
        )
        if not block_version.is_editable:
            raise VersionNotEditable(
                _("Version %(number)s is %(status)s; its content is frozen.")
                % {
                    "number": block_version.number,
                    "status": block_version.get_status_display(),
                }
            )
        problems = block_content_problems(contents)
        if problems:
            raise ValidationError(problems)
        existing = {c.language: c for c in block_version.contents.all()}
        for language, html, text in contents:
            content = existing.pop(language, None) or ContentBlockContent(
                version=block_version, language=language
            )
            if content.pk is None or (content.html, content.text) != (html, text):
                content.html, content.text = html, text
                content._change_reason = _("Edited by %(user)s") % {"user": actor}
                content._history_user = actor
                content.save()
        for content in existing.values():
            content._history_user = actor
            content.delete()
        block_version.content_hash = block_version_hash(block_version)
        block_version._change_reason = _("Content saved")
        block_version._history_user = actor
        block_version.save(update_fields=["content_hash", "updated"])
    return block_version


@dataclass
class RedraftResult:
    created: list[TemplateVersion] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def block_dependents_redraft(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser
) -> RedraftResult:
    """Start a draft pinned to this block version for every dependent template.

    Dependents are templates whose approved version pins an older version of
    the block. A template the actor may not author, or that already has a
    draft or a version in review, is skipped and named in the result.
    """
    block_version = ContentBlockVersion.objects.select_related("block").get(
        pk=block_version.pk
    )
    if block_version.status != Status.APPROVED:
        raise WorkflowRefused(
            _("Only an approved block version can be rolled out to templates."),
            rule="state",
        )
    newest = block_version.block.versions.order_by("-number").first()
    if newest.pk != block_version.pk:
        raise WorkflowRefused(
            _(
                "%(newest)s is newer than %(block)s; new drafts would pin it "
                "instead. Finish or withdraw it first."
            )
            % {"newest": newest, "block": block_version},
            rule="blocks",
        )
    result = RedraftResult()
    allowed = selectors.category_ids_for(actor, selectors.AUTHOR)
    seen: set[int] = set()
    for approved in selectors.block_dependents(block_version.block):
        template = approved.template
        # Dependents come newest first; the newest approved version is the base.
        if template.pk in seen:
            continue
        seen.add(template.pk)
        if approved.pins.filter(block_version=block_version).exists():
            continue
        if template.category_id not in allowed:
            result.skipped.append(
                _("%(template)s: you may not author in %(category)s")
                % {"template": template.code, "category": template.category}
            )
            continue
        try:
            with transaction.atomic():
                result.created.append(
                    version_draft_create(
                        template=template, author=actor, source=approved
                    )
                )
        except AuthoringError as exc:
            result.skipped.append(f"{template.code}: {exc}")
    return result


# --- Category permissions ------------------------------------------------------
