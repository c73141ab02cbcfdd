"""Writing templates and drafts: settings, content, pins, schedule, test sends."""

from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import event_record
from templates_app import rendering, selectors
from templates_app.emails import email_message
from templates_app.errors import (
    AuthoringError,
    VersionInvalid,
    VersionNotEditable,
    WorkflowRefused,
)
from templates_app.hashing import version_hash
from templates_app.models import (
    CHANNEL_FIELDS,
    HTML_FIELDS,
    OPEN_STATUSES,
    SETTINGS_FIELDS,
    TEMPLATED_FIELDS,
    Channel,
    Language,
    Status,
    Template,
    TemplateVersion,
    VersionBlockPin,
    VersionContent,
)
from templates_app.permissions import author_check
from templates_app.validation import (
    ContentDraft,
    ValidationReport,
    data_problems,
    schema_problems,
    validate_contents,
)
from templates_app.version_settings import settings_copy, version_preview_formats

TEMPLATE_AUDIT_FIELDS = (
    "code",
    "name",
    "name_ar",
    "category",
    "description",
    "channels",
    "default_language",
    "data_schema",
    "digits",
    "calendar",
    "sample_data",
)


def template_snapshot(template: Template) -> dict:
    """Return the audited fields of a template, its category by code."""
    return {
        name: template.category.code if name == "category" else getattr(template, name)
        for name in TEMPLATE_AUDIT_FIELDS
    }


def changes(before: dict, after: dict) -> tuple[dict, dict]:
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
        author_check(actor, template.category)
        stored = None
        if template.pk is not None:
            stored = (
                Template.objects.select_for_update()
                .select_related("category")
                .get(pk=template.pk)
            )
            if stored.category_id != template.category_id:
                author_check(actor, stored.category)
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
        changed_before, changed_after = changes(before, after)
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
            version_pins_refresh(draft, actor=actor)
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
        author_check(author, template.category)
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
        version_pins_refresh(version, actor=author)
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


def version_pins_refresh(version: TemplateVersion, *, actor: AbstractBaseUser) -> None:
    """Pin the block versions a draft uses, take the template's settings, rehash."""
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
        author_check(actor, version.template.category)
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
        version_pins_refresh(version, actor=actor)
    return report


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
            formats=version_preview_formats(version, language=draft.language),
            remote_images=version.category.allow_remote_images,
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


def version_schedule_set(
    *,
    version: TemplateVersion,
    actor: AbstractBaseUser,
    effective_from: datetime | None,
    effective_until: datetime | None,
) -> TemplateVersion:
    """Set when a draft should take effect and end, once approved."""
    with transaction.atomic():
        version = (
            TemplateVersion.objects.select_for_update(of=("self",))
            .select_related("template__category")
            .get(pk=version.pk)
        )
        author_check(actor, version.template.category)
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
