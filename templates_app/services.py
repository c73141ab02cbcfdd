"""Every write of template authoring, one function per change."""

import hashlib
import json
import logging
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from audit.services import event_record
from templates_app import rendering, selectors
from templates_app.emails import email_message
from templates_app.models import (
    CHANNEL_FIELDS,
    HTML_FIELDS,
    OPEN_STATUSES,
    SETTINGS_FIELDS,
    TEMPLATED_FIELDS,
    TRANSITIONS,
    Approval,
    Category,
    Channel,
    ContentBlock,
    ContentBlockContent,
    ContentBlockVersion,
    Language,
    Status,
    Template,
    TemplateVersion,
    VersionBlockPin,
    VersionContent,
)
from templates_app.validation import (
    ContentDraft,
    ValidationReport,
    data_problems,
    schema_problems,
    validate_contents,
)
from templates_app.version_settings import settings_copy, settings_hashed


class AuthoringError(Exception):
    """A template authoring change was refused."""


class VersionNotEditable(AuthoringError):
    """The version is no longer a draft, so its content is frozen."""


class AuthoringForbidden(AuthoringError):
    """The actor lacks the permission the change needs."""


class VersionInvalid(AuthoringError):
    """The submitted content failed validation."""

    def __init__(self, report: ValidationReport):
        super().__init__("; ".join(str(problem) for problem in report.errors))
        self.report = report


def _digest(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def block_version_hash(block_version: ContentBlockVersion) -> str:
    """Return the hash of a block version's content in every language."""
    return _digest(
        {
            "block": block_version.block.code,
            "contents": [
                {"language": c.language, "html": c.html, "text": c.text}
                # Language codes sort alike in Python and the database; a
                # prefetch (version_verification_load) is used as it stands.
                for c in sorted(block_version.contents.all(), key=lambda c: c.language)
            ],
        }
    )


def version_hash(version: TemplateVersion) -> str:
    """Return the hash of a version's content, pinned blocks and settings.

    Versions of hash scheme 1 (submitted before settings were frozen on
    versions) keep the hash their reviewers approved: content and blocks only.
    """
    settings = settings_hashed(version)
    return _digest(
        {
            **({"settings": settings} if settings is not None else {}),
            "template": version.template.code,
            "contents": [
                {
                    "channel": c.channel,
                    "language": c.language,
                    **{name: getattr(c, name) for name in CHANNEL_FIELDS[c.channel]},
                }
                for c in sorted(
                    version.contents.all(), key=lambda c: (c.channel, c.language)
                )
            ],
            "blocks": [
                {
                    "code": pin.block_version.block.code,
                    "number": pin.block_version.number,
                    "hash": pin.block_version.content_hash,
                }
                for pin in _pins(version)
            ],
        }
    )


PINS_LOADED = "pins_loaded"


def _pins_query():
    return VersionBlockPin.objects.select_related("block_version__block").order_by(
        "block_version__block__code"
    )


def _pins(version: TemplateVersion) -> list[VersionBlockPin]:
    """The version's pins in block code order (as loaded, if they were)."""
    loaded = getattr(version, PINS_LOADED, None)
    return list(_pins_query().filter(version=version)) if loaded is None else loaded


def version_verification_load(version: TemplateVersion) -> None:
    """Load what checking a version's hash and rendering it read, in three queries.

    Its contents, its pins (as `pins_loaded`, in block code order) with their
    block versions, and those block versions' contents. `version_hash_ok` and
    `selectors.block_sources_for_version` then read these rows, not the
    database again: what is rendered is what was checked.
    """
    prefetch_related_objects(
        [version],
        "contents",
        Prefetch("pins", queryset=_pins_query(), to_attr=PINS_LOADED),
        f"{PINS_LOADED}__block_version__contents",
    )


def _author_check(actor: AbstractBaseUser, category: Category) -> None:
    if not selectors.user_may(actor, selectors.AUTHOR, category):
        raise AuthoringForbidden(
            _("%(user)s may not author templates in the category %(category)s.")
            % {"user": actor, "category": category}
        )


def _block_author_check(actor: AbstractBaseUser) -> None:
    if not (
        actor.is_active and actor.has_perm("templates_app.change_contentblockversion")
    ):
        raise AuthoringForbidden(
            _("%(user)s may not author content blocks.") % {"user": actor}
        )


# What an audit event shows of a template, before and after a change.
TEMPLATE_AUDIT_FIELDS = (
    "code",
    "name",
    "category",
    "description",
    "channels",
    "default_language",
    "data_schema",
    "sample_data",
)


def template_snapshot(template: Template) -> dict:
    """Return the audited fields of a template, its category by code."""
    return {
        name: template.category.code if name == "category" else getattr(template, name)
        for name in TEMPLATE_AUDIT_FIELDS
    }


def _changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Return the fields that differ, as they were and as they are."""
    names = [name for name in after if before.get(name) != after[name]]
    return {n: before.get(n) for n in names}, {n: after[n] for n in names}


def template_save(*, template: Template, actor: AbstractBaseUser) -> Template:
    """Check a template's schema, sample data and category, save and audit it.

    A change of its settings (category, channels, default language, schema)
    reaches customers only with a version approved with them: the draft open
    on the template, if any, takes them now; the version in force keeps its own.
    """
    with transaction.atomic():
        _author_check(actor, template.category)
        stored = None
        if template.pk is not None:
            stored = (
                Template.objects.select_for_update()
                .select_related("category")
                .get(pk=template.pk)
            )
            if stored.category_id != template.category_id:
                _author_check(actor, stored.category)
            if stored.code != template.code:
                raise AuthoringError(
                    _(
                        "A template's code cannot change: upstream systems and "
                        "sent communications refer to it. Create a new template."
                    )
                )
        problems = schema_problems(template.data_schema)
        if not problems:
            problems = [
                _("Sample data does not match the schema at %s") % problem
                for problem in data_problems(template.data_schema, template.sample_data)
            ]
        if problems:
            raise ValidationError({"sample_data": problems})
        template.full_clean()
        before = template_snapshot(stored) if stored is not None else None
        after = template_snapshot(template)
        if before == after:
            return template
        template._change_reason = _("Saved by %(user)s") % {"user": actor}
        template._history_user = actor
        template.save()
        if before is None:
            event_record(
                action="templates.template.created",
                actor=actor,
                subject=template,
                after=after,
            )
            return template
        changed_before, changed_after = _changes(before, after)
        settings_changed = [n for n in SETTINGS_FIELDS if n in changed_after]
        event_record(
            action="templates.template.changed",
            actor=actor,
            subject=template,
            before=changed_before,
            after=changed_after,
            reason=_(
                "Settings changed (%(fields)s): they reach customers only with a "
                "version approved with them."
            )
            % {"fields": ", ".join(settings_changed)}
            if settings_changed
            else "",
        )
        draft = template.versions.filter(status=Status.DRAFT).first()
        if settings_changed and draft is not None:
            _version_pins_refresh(draft, actor=actor)
    return template


def blocks_by_language(version: TemplateVersion) -> dict[str, dict]:
    """Return the block sources a version renders with, for every language."""
    return {
        language: selectors.block_sources_for_version(version, language)
        for language in Language.values
    }


def version_validate(
    *, version: TemplateVersion, contents: list[ContentDraft]
) -> ValidationReport:
    """Validate content against the settings the version will be approved with.

    A draft follows its template's settings; a submitted version has its own.
    """
    template = version.template
    settings = template if version.is_editable else version
    return validate_contents(
        channels=settings.channels,
        default_language=settings.default_language,
        schema=settings.data_schema,
        sample_data=template.sample_data,
        contents=contents,
        blocks_by_language=blocks_by_language(version),
    )


def version_draft_create(
    *,
    template: Template,
    author: AbstractBaseUser,
    source: TemplateVersion | None = None,
) -> TemplateVersion:
    """Start a new draft, copying the content of `source` or the latest version."""
    with transaction.atomic():
        # Lock the template row so two authors never take the same number.
        template = (
            Template.objects.select_for_update()
            .select_related("category")
            .get(pk=template.pk)
        )
        _author_check(author, template.category)
        existing = template.versions.filter(status__in=OPEN_STATUSES).first()
        if existing is not None:
            raise AuthoringError(
                _(
                    "Version %(number)s is already %(status)s; finish it before "
                    "starting another draft."
                )
                % {"number": existing.number, "status": existing.get_status_display()}
            )
        if source is not None and source.template_id != template.pk:
            raise AuthoringError(_("A draft can only copy a version of its template."))
        previous = source or selectors.version_latest(template)
        version = TemplateVersion(
            template=template,
            number=selectors.version_next_number(template),
            author=author,
            based_on=previous,
        )
        settings_copy(version, template)
        version._change_reason = (
            _("Draft started from v%(number)s") % {"number": previous.number}
            if previous
            else _("Draft started")
        )
        version._history_user = author
        version.save()
        if previous is not None:
            for content in previous.contents.all():
                copy = VersionContent(
                    version=version,
                    channel=content.channel,
                    language=content.language,
                    **{n: getattr(content, n) for n in CHANNEL_FIELDS[content.channel]},
                )
                copy._history_user = author
                copy.save()
        _version_pins_refresh(version, actor=author)
        event_record(
            action="templates.version.created",
            actor=author,
            subject=version,
            after={
                "status": version.status,
                "number": version.number,
                "based_on": previous.number if previous else None,
            },
        )
    return version


def _version_pins_refresh(version: TemplateVersion, *, actor: AbstractBaseUser) -> None:
    wanted: set[int] = set()
    sources = blocks_by_language(version)
    for _channel, language, name, source in rendering.iter_sources(
        version.contents.all()
    ):
        if not source:
            continue
        try:
            codes = rendering.blocks_used(
                rendering.parse(source, html=name in HTML_FIELDS)
            )
        except rendering.RenderError:
            continue
        for code in codes:
            block = sources.get(language, {}).get(code)
            if block is not None:
                wanted.add(block.version_id)
    current = set(version.pins.values_list("block_version_id", flat=True))
    for pin in version.pins.exclude(block_version_id__in=wanted):
        pin._history_user = actor
        pin.delete()
    for block_version_id in sorted(wanted - current):
        pin = VersionBlockPin(version=version, block_version_id=block_version_id)
        pin._history_user = actor
        pin.save()
    # A draft carries its template's settings as they are now; submission
    # freezes them with the content.
    settings = settings_copy(version, version.template)
    version.content_hash = version_hash(version)
    version._change_reason = (
        _("Settings taken from the template") if settings else _("Content saved")
    )
    version._history_user = actor
    version.save(
        update_fields=[
            "content_hash",
            "updated",
            *SETTINGS_FIELDS,
            "hash_scheme",
        ]
    )


def version_content_save(
    *,
    version: TemplateVersion,
    contents: list[ContentDraft],
    actor: AbstractBaseUser,
) -> ValidationReport:
    """Replace a draft's content after validating it; pin blocks; rehash."""
    with transaction.atomic():
        version = (
            TemplateVersion.objects.select_for_update(of=("self",))
            .select_related("template__category")
            .get(pk=version.pk)
        )
        _author_check(actor, version.template.category)
        if not version.is_editable:
            raise VersionNotEditable(
                _("Version %(number)s is %(status)s; its content is frozen.")
                % {"number": version.number, "status": version.get_status_display()}
            )
        report = version_validate(version=version, contents=contents)
        if not report.ok:
            raise VersionInvalid(report)
        existing = {(c.channel, c.language): c for c in version.contents.all()}
        kept = set()
        for draft in contents:
            key = (draft.channel, draft.language)
            kept.add(key)
            content = existing.get(key) or VersionContent(
                version=version, channel=draft.channel, language=draft.language
            )
            changed = content.pk is None
            for name, value in draft.sources().items():
                if getattr(content, name) != value:
                    setattr(content, name, value)
                    changed = True
            if changed:
                content._change_reason = _("Edited by %(user)s") % {"user": actor}
                content._history_user = actor
                content.save()
        for key, content in existing.items():
            if key not in kept:
                content._change_reason = _("Removed by %(user)s") % {"user": actor}
                content._history_user = actor
                content.delete()
        _version_pins_refresh(version, actor=actor)
    return report


BLOCK_AUDIT_FIELDS = ("code", "name", "description")


def block_save(*, block: ContentBlock, actor: AbstractBaseUser | None) -> ContentBlock:
    """Create or change a content block's code, name and description; audit it.

    The code never changes: templates include the block by it, and the hashes
    of its versions cover it.
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
        block.full_clean()
        before = (
            {name: getattr(stored, name) for name in BLOCK_AUDIT_FIELDS}
            if stored is not None
            else None
        )
        after = {name: getattr(block, name) for name in BLOCK_AUDIT_FIELDS}
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
            changed_before, changed_after = _changes(before, after)
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
    _block_author_check(author)
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
    _block_author_check(actor)
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


def version_test_send(
    *,
    version: TemplateVersion,
    contents: list[ContentDraft],
    user: AbstractBaseUser,
) -> list[str]:
    """Email the sample rendering of each email language to the user; return them."""
    if not getattr(user, "email", ""):
        raise AuthoringError(_("Your user has no email address to send a test to."))
    sources = blocks_by_language(version)
    sent = []
    messages = []
    for draft in contents:
        if draft.channel != Channel.EMAIL:
            continue
        rendered = rendering.render_content(
            channel=draft.channel,
            language=draft.language,
            sources=draft.sources(),
            data=version.template.sample_data,
            blocks=sources.get(draft.language, {}),
        )
        messages.append(
            email_message(
                subject=_("[TEST] %(subject)s")
                % {"subject": rendered.parts["subject"]},
                html=rendered.parts["html"],
                text=rendered.parts["text"],
                language=draft.language,
                to=[user.email],
            )
        )
        sent.append(draft.language)
    if not messages:
        raise AuthoringError(_("This version has no email content to send."))
    with get_connection() as connection:
        connection.send_messages(messages)
    return sent


def contents_of(version: TemplateVersion) -> list[ContentDraft]:
    """Return a version's stored content as drafts, for validation and preview."""
    return [
        ContentDraft(
            channel=content.channel,
            language=content.language,
            fields={
                name: getattr(content, name)
                for name in CHANNEL_FIELDS[content.channel]
                if name in TEMPLATED_FIELDS or name == "letter_css"
            },
        )
        for content in version.contents.all()
    ]


# --- The review workflow -----------------------------------------------------

logger = logging.getLogger(__name__)

Versioned = TemplateVersion | ContentBlockVersion


class WorkflowRefused(AuthoringError):
    """A workflow change was refused; `rule` names the rule it broke."""

    def __init__(self, message: str, *, rule: str):
        super().__init__(message)
        self.rule = rule


def version_hash_ok(version: TemplateVersion) -> bool:
    """Return whether the version and its pinned blocks still match their hashes."""
    return not _hash_mismatches(version)


def _hash_mismatches(version: TemplateVersion) -> list[str]:
    problems = []
    computed = version_hash(version)
    if computed != version.content_hash:
        problems.append(
            _(
                "%(version)s: stored content hash %(stored)s does not match the "
                "content (%(computed)s)"
            )
            % {
                "version": version,
                "stored": version.content_hash[:12] or "-",
                "computed": computed[:12],
            }
        )
    for pin in _pins(version):
        block_version = pin.block_version
        computed = block_version_hash(block_version)
        if computed != block_version.content_hash:
            problems.append(
                _(
                    "pinned block %(block)s: stored content hash %(stored)s does "
                    "not match the content (%(computed)s)"
                )
                % {
                    "block": block_version,
                    "stored": block_version.content_hash[:12] or "-",
                    "computed": computed[:12],
                }
            )
    return problems


def _state_check(subject: Versioned, target: str, verb: str) -> None:
    """Refuse unless the declared transitions allow `subject` to reach `target`."""
    if target in TRANSITIONS[subject.status]:
        return
    allowed = ", ".join(
        str(Status(state).label) for state in sorted(TRANSITIONS[subject.status])
    )
    raise WorkflowRefused(
        _(
            "%(subject)s cannot be %(verb)s: it is %(status)s, and a version "
            "that is %(status)s may only become: %(allowed)s."
        )
        % {
            "subject": subject,
            "verb": verb,
            "status": subject.get_status_display(),
            "allowed": allowed or _("nothing (final)"),
        },
        rule="state",
    )


def _transition(
    subject: Versioned,
    *,
    target: str,
    actor: AbstractBaseUser | None,
    action: str,
    comment: str = "",
    fields: Iterable[str] = (),
    after: dict | None = None,
) -> None:
    """Save `subject` in `target`, with its history reason and its audit event."""
    before = subject.status
    subject.status = target
    subject.transition_allow(target)
    subject._change_reason = (
        f"{before} → {target}: {comment}" if comment else f"{before} → {target}"
    )[:100]
    subject._history_user = actor
    subject.save(update_fields=["status", "updated", *fields])
    event_record(
        action=action,
        actor=actor,
        subject=subject,
        before={"status": before},
        after={"status": target, "content_hash": subject.content_hash, **(after or {})},
        reason=comment,
    )


def _locked_version(version: TemplateVersion) -> TemplateVersion:
    return (
        TemplateVersion.objects.select_for_update(of=("self",))
        .select_related("template__category", "category", "author")
        .get(pk=version.pk)
    )


def _locked_block_version(block_version: ContentBlockVersion) -> ContentBlockVersion:
    return (
        ContentBlockVersion.objects.select_for_update(of=("self",))
        .select_related("block", "author")
        .get(pk=block_version.pk)
    )


def _review_check(actor: AbstractBaseUser, version: TemplateVersion) -> None:
    # The category the version would be sent under, which may be new to it.
    category = version.category
    if not selectors.user_may(actor, selectors.REVIEW, category):
        raise WorkflowRefused(
            _(
                "%(user)s may not review in the category %(category)s: the "
                "review permission on the category is required."
            )
            % {"user": actor, "category": category},
            rule="permission",
        )


def _block_review_check(actor: AbstractBaseUser) -> None:
    if not (actor.is_active and actor.has_perm("templates_app.review_contentblock")):
        raise WorkflowRefused(
            _("%(user)s may not review content blocks.") % {"user": actor},
            rule="permission",
        )


def _segregation_check(
    actor: AbstractBaseUser,
    subject: Versioned,
    editors: set[int],
    lineage: Mapping[int, Versioned] | None = None,
) -> None:
    if actor.pk == subject.author_id:
        raise WorkflowRefused(
            _(
                "Segregation of duties: %(user)s wrote %(subject)s and may not "
                "approve it."
            )
            % {"user": actor, "subject": subject},
            rule="segregation",
        )
    if actor.pk in editors:
        raise WorkflowRefused(
            _(
                "Segregation of duties: %(user)s edited %(subject)s and may not "
                "approve it."
            )
            % {"user": actor, "subject": subject},
            rule="segregation",
        )
    if lineage and actor.pk in lineage:
        raise WorkflowRefused(
            _(
                "Segregation of duties: %(user)s wrote or edited %(earlier)s, from "
                "which %(subject)s descends, and may not approve it."
            )
            % {"user": actor, "earlier": lineage[actor.pk], "subject": subject},
            rule="segregation",
        )


def _site_path(name: str, pk: int) -> str:
    return reverse(name, args=[pk])


def _notify(*, recipients: Iterable[AbstractBaseUser], subject: str, body: str) -> None:
    """Email each recipient once the transaction commits; log, never raise, on failure.

    The change is already committed when the mail goes out, so a mail server
    failure must not turn a recorded decision into an error page.
    """
    addresses = sorted({user.email for user in recipients if user.email})
    if not addresses:
        return

    def send() -> None:
        messages = [EmailMessage(subject=subject, body=body, to=[a]) for a in addresses]
        try:
            with get_connection() as connection:
                connection.send_messages(messages)
        except (OSError, smtplib.SMTPException) as exc:
            # The kind of error only: a refusal's text quotes the addresses.
            logger.warning(
                "workflow notification %r to %s recipient(s) was not sent (%s)",
                subject,
                len(addresses),
                type(exc).__name__,
            )

    transaction.on_commit(send)


def _notify_reviewers(version: TemplateVersion, actor: AbstractBaseUser) -> None:
    category = version.category
    reviewers = selectors.category_reviewers(category).exclude(
        pk__in=selectors.version_editors(version)
        | set(selectors.version_lineage_writers(version))
    )
    _notify(
        recipients=reviewers,
        subject=_("Review requested: %(version)s") % {"version": version},
        body=_(
            "%(user)s submitted %(version)s in %(category)s for review.\n\n"
            "Review it at %(path)s"
        )
        % {
            "user": actor,
            "version": version,
            "category": category,
            "path": _site_path(
                "admin:templates_app_templateversion_review", version.pk
            ),
        },
    )


def _notify_author(subject_version: Versioned, decision: str, comment: str) -> None:
    path = (
        _site_path("admin:templates_app_templateversion_change", subject_version.pk)
        if isinstance(subject_version, TemplateVersion)
        else _site_path(
            "admin:templates_app_contentblockversion_change", subject_version.pk
        )
    )
    _notify(
        recipients=[subject_version.author],
        subject=_("%(version)s was %(decision)s")
        % {"version": subject_version, "decision": decision},
        body=_("%(version)s was %(decision)s.\n\nComment: %(comment)s\n\n%(path)s")
        % {
            "version": subject_version,
            "decision": decision,
            "comment": comment or "-",
            "path": path,
        },
    )


def version_schedule_set(
    *,
    version: TemplateVersion,
    actor: AbstractBaseUser,
    effective_from: datetime | None,
    effective_until: datetime | None,
) -> TemplateVersion:
    """Set when a draft should take effect and end, once approved."""
    with transaction.atomic():
        version = _locked_version(version)
        _author_check(actor, version.template.category)
        if not version.is_editable:
            raise VersionNotEditable(
                _("Version %(number)s is %(status)s; its schedule is frozen.")
                % {"number": version.number, "status": version.get_status_display()}
            )
        if effective_from and effective_until and effective_until <= effective_from:
            raise WorkflowRefused(
                _("The version must end after it takes effect."), rule="schedule"
            )
        version.effective_from, version.effective_until = (
            effective_from,
            effective_until,
        )
        version._change_reason = _("Schedule set")
        version._history_user = actor
        version.save(update_fields=["effective_from", "effective_until", "updated"])
    return version


def version_submit(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str = ""
) -> TemplateVersion:
    """Freeze a valid draft and send it to the category's reviewers."""
    with transaction.atomic():
        version = _locked_version(version)
        _author_check(actor, version.template.category)
        _state_check(version, Status.IN_REVIEW, _("submitted"))
        report = version_validate(version=version, contents=contents_of(version))
        if not report.ok:
            raise WorkflowRefused(
                _("The content is not valid: %(errors)s")
                % {"errors": "; ".join(str(p) for p in report.errors)},
                rule="validation",
            )
        # Pin the block versions the author last previewed with, then freeze.
        _version_pins_refresh(version, actor=actor)
        unreviewable = [
            pin.block_version
            for pin in version.pins.select_related("block_version__block")
            if pin.block_version.status
            not in (Status.IN_REVIEW, Status.APPROVED, Status.SUPERSEDED)
        ]
        if unreviewable:
            raise WorkflowRefused(
                _("Submit the pinned block versions first: %(blocks)s")
                % {"blocks": ", ".join(str(b) for b in unreviewable)},
                rule="blocks",
            )
        version.submitted_at = timezone.now()
        _transition(
            version,
            target=Status.IN_REVIEW,
            actor=actor,
            action="templates.version.submitted",
            comment=comment,
            fields=["submitted_at"],
        )
        _notify_reviewers(version, actor)
    return version


def version_withdraw(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str = ""
) -> TemplateVersion:
    """Take a version back from review into draft; its approvals so far lapse."""
    with transaction.atomic():
        version = _locked_version(version)
        _author_check(actor, version.template.category)
        _state_check(version, Status.DRAFT, _("withdrawn"))
        _transition(
            version,
            target=Status.DRAFT,
            actor=actor,
            action="templates.version.withdrawn",
            comment=comment,
        )
    return version


def _schedule_resolve(version: TemplateVersion, now: datetime) -> list[TemplateVersion]:
    """Fix the version's effective range and close the one it follows.

    Return the earlier versions whose range ended now, to be superseded. A
    later-starting approved version is never shortened: that would silently
    change a decision already taken, so the approval is refused instead.
    """
    start = max(version.effective_from or now, now)
    until = version.effective_until
    if until is not None and until <= start:
        raise WorkflowRefused(
            _(
                "The version would end (%(until)s) before it takes effect "
                "(%(start)s); the author must set a new schedule."
            )
            % {"until": until.isoformat(), "start": start.isoformat()},
            rule="schedule",
        )
    version.effective_from = start
    ended = []
    others = (
        TemplateVersion.objects.select_for_update()
        .filter(template_id=version.template_id, status=Status.APPROVED)
        .exclude(pk=version.pk)
        .order_by("effective_from")
    )
    for other in others:
        overlaps = (
            other.effective_until is None or other.effective_until > start
        ) and (until is None or other.effective_from < until)
        if not overlaps:
            continue
        if other.effective_from >= start:
            raise WorkflowRefused(
                _(
                    "At most one version may be in force at a time: "
                    "%(other)s takes effect at %(at)s, within this version's "
                    "period; retire it first or end this version before then."
                )
                % {"other": other, "at": other.effective_from.isoformat()},
                rule="in-force",
            )
        other.effective_until = start
        other._change_reason = _("Ends when v%(number)s takes effect") % {
            "number": version.number
        }
        other.save(update_fields=["effective_until", "updated"])
        if start <= now:
            ended.append(other)
    return ended


def version_approve(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str = ""
) -> TemplateVersion:
    """Record an approval; approve the version once the category's quorum is met.

    Refused, naming the rule, when the actor lacks the category's review
    permission, wrote or edited the version, already approved it, or when the
    content or a pinned block no longer matches its hash.
    """
    with transaction.atomic():
        version = _locked_version(version)
        _state_check(version, Status.APPROVED, _("approved"))
        _review_check(actor, version)
        _segregation_check(
            actor,
            version,
            selectors.version_editors(version),
            selectors.version_lineage_writers(version),
        )
        approvals = selectors.approvals_current(version)
        if any(approval.reviewer_id == actor.pk for approval in approvals):
            raise WorkflowRefused(
                _(
                    "%(user)s already approved %(version)s; the category needs "
                    "approvals by distinct reviewers."
                )
                % {"user": actor, "version": version},
                rule="distinct-approvals",
            )
        mismatches = _hash_mismatches(version)
        if mismatches:
            raise WorkflowRefused(
                _("Content hash mismatch, refusing to approve: %(problems)s")
                % {"problems": "; ".join(mismatches)},
                rule="hash",
            )
        unapproved = [
            pin.block_version
            for pin in version.pins.select_related("block_version__block")
            if pin.block_version.status not in (Status.APPROVED, Status.SUPERSEDED)
        ]
        if unapproved:
            raise WorkflowRefused(
                _("The pinned block versions must be approved first: %(blocks)s")
                % {"blocks": ", ".join(str(b) for b in unapproved)},
                rule="blocks",
            )
        now = timezone.now()
        Approval.objects.create(
            version=version,
            reviewer=actor,
            comment=comment,
            content_hash=version.content_hash,
            at=now,
        )
        given = len(approvals) + 1
        required = max(version.category.required_approvals, 1)
        if given < required:
            event_record(
                action="templates.version.approval_recorded",
                actor=actor,
                subject=version,
                before={"approvals": given - 1},
                after={"approvals": given, "required": required},
                reason=comment,
            )
            return version
        ended = _schedule_resolve(version, now)
        version.decided_at = now
        _transition(
            version,
            target=Status.APPROVED,
            actor=actor,
            action="templates.version.approved",
            comment=comment,
            fields=["effective_from", "effective_until", "decided_at"],
            after={
                "effective_from": version.effective_from.isoformat(),
                "effective_until": version.effective_until
                and version.effective_until.isoformat(),
                "approvals": given,
            },
        )
        for previous in ended:
            _transition(
                previous,
                target=Status.SUPERSEDED,
                actor=actor,
                action="templates.version.superseded",
                comment=_("Superseded by v%(number)s") % {"number": version.number},
            )
        _notify_author(version, _("approved"), comment)
    return version


def _reason_required(comment: str) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise WorkflowRefused(
            _("A rejection needs a reason for the author."), rule="reason"
        )
    return comment


def version_reject(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str
) -> TemplateVersion:
    """Send a version back with the reviewer's reason; the author starts anew."""
    with transaction.atomic():
        version = _locked_version(version)
        _state_check(version, Status.REJECTED, _("rejected"))
        _review_check(actor, version)
        comment = _reason_required(comment)
        version.rejection_reason = comment
        version.decided_at = timezone.now()
        _transition(
            version,
            target=Status.REJECTED,
            actor=actor,
            action="templates.version.rejected",
            comment=comment,
            fields=["rejection_reason", "decided_at"],
        )
        _notify_author(version, _("rejected"), comment)
    return version


def version_retire(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str = ""
) -> TemplateVersion:
    """Take an approved version out of force now (or cancel its future start)."""
    with transaction.atomic():
        version = _locked_version(version)
        _state_check(version, Status.RETIRED, _("retired"))
        _review_check(actor, version)
        now = timezone.now()
        end = max(now, version.effective_from or now)
        if version.effective_until is None or version.effective_until > end:
            version.effective_until = end
        _transition(
            version,
            target=Status.RETIRED,
            actor=actor,
            action="templates.version.retired",
            comment=comment,
            fields=["effective_until"],
            after={"effective_until": version.effective_until.isoformat()},
        )
    return version


def versions_supersede_due(now: datetime | None = None) -> int:
    """Close approved versions whose effective period has ended; return how many.

    A version followed by another that starts when it ends is superseded; one
    that simply expired is retired. Idempotent: run it as often as you like.
    """
    now = now or timezone.now()
    closed = 0
    due = TemplateVersion.objects.filter(
        status=Status.APPROVED, effective_until__lte=now
    ).values_list("pk", flat=True)
    for pk in due:
        with transaction.atomic():
            version = (
                TemplateVersion.objects.select_for_update(of=("self",))
                .filter(pk=pk, status=Status.APPROVED)
                .first()
            )
            if version is None:
                continue
            successor = (
                TemplateVersion.objects.filter(
                    template_id=version.template_id,
                    effective_from=version.effective_until,
                    status__in=(Status.APPROVED, Status.SUPERSEDED, Status.RETIRED),
                )
                .exclude(pk=version.pk)
                .first()
            )
            if successor is not None:
                _transition(
                    version,
                    target=Status.SUPERSEDED,
                    actor=None,
                    action="templates.version.superseded",
                    comment=_("Superseded by v%(number)s")
                    % {"number": successor.number},
                )
            else:
                _transition(
                    version,
                    target=Status.RETIRED,
                    actor=None,
                    action="templates.version.retired",
                    comment=_("Its effective period ended"),
                )
            closed += 1
    return closed


# --- Content block workflow ---------------------------------------------------


def block_submit(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str = ""
) -> ContentBlockVersion:
    """Freeze a block draft and send it for review."""
    _block_author_check(actor)
    with transaction.atomic():
        block_version = _locked_block_version(block_version)
        _state_check(block_version, Status.IN_REVIEW, _("submitted"))
        problems = block_content_problems(
            (c.language, c.html, c.text) for c in block_version.contents.all()
        )
        if problems or not block_version.contents.exists():
            raise WorkflowRefused(
                _("The content is not valid: %(errors)s")
                % {"errors": "; ".join(problems) or _("no content")},
                rule="validation",
            )
        block_version.content_hash = block_version_hash(block_version)
        block_version.submitted_at = timezone.now()
        _transition(
            block_version,
            target=Status.IN_REVIEW,
            actor=actor,
            action="templates.block.submitted",
            comment=comment,
            fields=["content_hash", "submitted_at"],
        )
    return block_version


def block_withdraw(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str = ""
) -> ContentBlockVersion:
    """Take a block version back from review into draft."""
    _block_author_check(actor)
    with transaction.atomic():
        block_version = _locked_block_version(block_version)
        _state_check(block_version, Status.DRAFT, _("withdrawn"))
        _transition(
            block_version,
            target=Status.DRAFT,
            actor=actor,
            action="templates.block.withdrawn",
            comment=comment,
        )
    return block_version


def block_approve(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str = ""
) -> ContentBlockVersion:
    """Approve a block version; the approved one before it is superseded.

    Templates already approved keep rendering with the block versions they pin.
    """
    with transaction.atomic():
        block_version = _locked_block_version(block_version)
        _state_check(block_version, Status.APPROVED, _("approved"))
        _block_review_check(actor)
        _segregation_check(
            actor, block_version, selectors.block_version_editors(block_version)
        )
        computed = block_version_hash(block_version)
        if computed != block_version.content_hash:
            raise WorkflowRefused(
                _(
                    "Content hash mismatch, refusing to approve: stored %(stored)s, "
                    "content %(computed)s"
                )
                % {
                    "stored": block_version.content_hash[:12],
                    "computed": computed[:12],
                },
                rule="hash",
            )
        now = timezone.now()
        Approval.objects.create(
            block_version=block_version,
            reviewer=actor,
            comment=comment,
            content_hash=block_version.content_hash,
            at=now,
        )
        block_version.decided_at = now
        _transition(
            block_version,
            target=Status.APPROVED,
            actor=actor,
            action="templates.block.approved",
            comment=comment,
            fields=["decided_at"],
        )
        previous = ContentBlockVersion.objects.select_for_update().filter(
            block_id=block_version.block_id,
            status=Status.APPROVED,
            number__lt=block_version.number,
        )
        for older in previous:
            _transition(
                older,
                target=Status.SUPERSEDED,
                actor=actor,
                action="templates.block.superseded",
                comment=_("Superseded by v%(number)s")
                % {"number": block_version.number},
            )
        _notify_author(block_version, _("approved"), comment)
    return block_version


def block_reject(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str
) -> ContentBlockVersion:
    """Send a block version back with the reviewer's reason."""
    with transaction.atomic():
        block_version = _locked_block_version(block_version)
        _state_check(block_version, Status.REJECTED, _("rejected"))
        _block_review_check(actor)
        comment = _reason_required(comment)
        block_version.rejection_reason = comment
        block_version.decided_at = timezone.now()
        _transition(
            block_version,
            target=Status.REJECTED,
            actor=actor,
            action="templates.block.rejected",
            comment=comment,
            fields=["rejection_reason", "decided_at"],
        )
        _notify_author(block_version, _("rejected"), comment)
    return block_version


def block_retire(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str = ""
) -> ContentBlockVersion:
    """Stop offering a block version to new drafts; pinned templates keep it."""
    with transaction.atomic():
        block_version = _locked_block_version(block_version)
        _state_check(block_version, Status.RETIRED, _("retired"))
        _block_review_check(actor)
        _transition(
            block_version,
            target=Status.RETIRED,
            actor=actor,
            action="templates.block.retired",
            comment=comment,
        )
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


def _grantee(user: AbstractBaseUser | None, group: Group | None):
    if (user is None) == (group is None):
        raise ValueError("Grant to exactly one user or one group.")
    return user if user is not None else group


def _category_permission_check(permission: str) -> str:
    if permission not in selectors.CATEGORY_PERMISSIONS:
        raise AuthoringError(
            _("Unknown category permission %(permission)s.")
            % {"permission": permission}
        )
    return permission


def _category_permission_change(
    *,
    grant: bool,
    category: Category,
    permission: str,
    actor: AbstractBaseUser | None,
    user: AbstractBaseUser | None,
    group: Group | None,
) -> None:
    _category_permission_check(permission)
    grantee = _grantee(user, group)
    if actor is not None and not actor.has_perm(
        "templates_app.manage_category_permissions"
    ):
        message = (
            _("%(user)s may not grant category permissions.")
            if grant
            else _("%(user)s may not revoke category permissions.")
        )
        raise AuthoringForbidden(message % {"user": actor})
    codename = f"templates_app.{permission}"
    held = {
        "permission": codename,
        "user" if user is not None else "group": str(grantee),
    }
    with transaction.atomic():
        if grant:
            assign_perm(codename, grantee, category)
        else:
            remove_perm(codename, grantee, category)
        event_record(
            action="auth.permission.granted" if grant else "auth.permission.revoked",
            actor=actor,
            subject=category,
            before=None if grant else held,
            after=held if grant else None,
        )


def category_permission_grant(
    *,
    category: Category,
    permission: str,
    actor: AbstractBaseUser | None,
    user: AbstractBaseUser | None = None,
    group: Group | None = None,
) -> None:
    """Let a user or group author or review in one category, and audit it."""
    _category_permission_change(
        grant=True,
        category=category,
        permission=permission,
        actor=actor,
        user=user,
        group=group,
    )


def category_permission_revoke(
    *,
    category: Category,
    permission: str,
    actor: AbstractBaseUser | None,
    user: AbstractBaseUser | None = None,
    group: Group | None = None,
) -> None:
    """Withdraw a user's or group's category permission, and audit it."""
    _category_permission_change(
        grant=False,
        category=category,
        permission=permission,
        actor=actor,
        user=user,
        group=group,
    )
