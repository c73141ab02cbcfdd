"""Every write of template authoring, one function per change."""

import hashlib
import json
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from templates_app import rendering, selectors
from templates_app.emails import email_message
from templates_app.models import (
    CHANNEL_FIELDS,
    HTML_FIELDS,
    TEMPLATED_FIELDS,
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


class AuthoringError(Exception):
    """A template authoring change was refused."""


class VersionNotEditable(AuthoringError):
    """The version is no longer a draft, so its content is frozen."""


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
                for c in block_version.contents.order_by("language")
            ],
        }
    )


def version_hash(version: TemplateVersion) -> str:
    """Return the hash of a version's content and the block versions it pins."""
    return _digest(
        {
            "template": version.template.code,
            "contents": [
                {
                    "channel": c.channel,
                    "language": c.language,
                    **{name: getattr(c, name) for name in CHANNEL_FIELDS[c.channel]},
                }
                for c in version.contents.order_by("channel", "language")
            ],
            "blocks": [
                {
                    "code": pin.block_version.block.code,
                    "number": pin.block_version.number,
                    "hash": pin.block_version.content_hash,
                }
                for pin in version.pins.select_related("block_version__block").order_by(
                    "block_version__block__code"
                )
            ],
        }
    )


def template_save(*, template: Template, actor: AbstractBaseUser) -> Template:
    """Check a template's schema and sample data, then save it."""
    problems = schema_problems(template.data_schema)
    if not problems:
        problems = [
            _("Sample data does not match the schema at %s") % problem
            for problem in data_problems(template.data_schema, template.sample_data)
        ]
    if problems:
        raise ValidationError({"sample_data": problems})
    template.full_clean()
    template._change_reason = _("Saved by %(user)s") % {"user": actor}
    template.save()
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
    """Validate draft content for a version of its template."""
    template = version.template
    return validate_contents(
        channels=template.channels,
        default_language=template.default_language,
        schema=template.data_schema,
        sample_data=template.sample_data,
        contents=contents,
        blocks_by_language=blocks_by_language(version),
    )


def version_draft_create(
    *, template: Template, author: AbstractBaseUser
) -> TemplateVersion:
    """Start a new draft, copying the content of the template's latest version."""
    with transaction.atomic():
        # Lock the template row so two authors never take the same number.
        Template.objects.select_for_update().get(pk=template.pk)
        existing = template.versions.filter(status=Status.DRAFT).first()
        if existing is not None:
            raise AuthoringError(
                _("Version %(number)s is already a draft; edit it instead.")
                % {"number": existing.number}
            )
        previous = selectors.version_latest(template)
        version = TemplateVersion(
            template=template,
            number=selectors.version_next_number(template),
            author=author,
        )
        version._change_reason = _("Draft started")
        version.save()
        if previous is not None:
            for content in previous.contents.all():
                VersionContent.objects.create(
                    version=version,
                    channel=content.channel,
                    language=content.language,
                    **{n: getattr(content, n) for n in CHANNEL_FIELDS[content.channel]},
                )
        _version_pins_refresh(version)
    return version


def _version_pins_refresh(version: TemplateVersion) -> None:
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
        pin.delete()
    for block_version_id in sorted(wanted - current):
        VersionBlockPin.objects.create(
            version=version, block_version_id=block_version_id
        )
    version.content_hash = version_hash(version)
    version._change_reason = _("Content saved")
    version.save(update_fields=["content_hash", "updated"])


def version_content_save(
    *,
    version: TemplateVersion,
    contents: list[ContentDraft],
    actor: AbstractBaseUser,
) -> ValidationReport:
    """Replace a draft's content after validating it; pin blocks; rehash."""
    with transaction.atomic():
        version = TemplateVersion.objects.select_for_update().get(pk=version.pk)
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
                content.save()
        for key, content in existing.items():
            if key not in kept:
                content._change_reason = _("Removed by %(user)s") % {"user": actor}
                content.delete()
        _version_pins_refresh(version)
    return report


def block_draft_create(
    *, block: ContentBlock, author: AbstractBaseUser
) -> ContentBlockVersion:
    """Start a new block draft, copying the block's latest version."""
    with transaction.atomic():
        ContentBlock.objects.select_for_update().get(pk=block.pk)
        existing = block.versions.filter(status=Status.DRAFT).first()
        if existing is not None:
            raise AuthoringError(
                _("Version %(number)s is already a draft; edit it instead.")
                % {"number": existing.number}
            )
        previous = block.versions.order_by("-number").first()
        version = ContentBlockVersion(
            block=block, number=(previous.number + 1) if previous else 1, author=author
        )
        version._change_reason = _("Draft started")
        version.save()
        if previous is not None:
            for content in previous.contents.all():
                ContentBlockContent.objects.create(
                    version=version,
                    language=content.language,
                    html=content.html,
                    text=content.text,
                )
        version.content_hash = block_version_hash(version)
        version.save(update_fields=["content_hash", "updated"])
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
                content.save()
        for content in existing.values():
            content.delete()
        block_version.content_hash = block_version_hash(block_version)
        block_version._change_reason = _("Content saved")
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
    from django.core.mail import get_connection

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
