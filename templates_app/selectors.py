"""Reads with rules: which block versions a render uses, language, where-used."""

from django.db.models import Max, QuerySet

from templates_app.models import (
    CHANNEL_REQUIRED_FIELDS,
    ContentBlock,
    ContentBlockContent,
    Status,
    Template,
    TemplateVersion,
    VersionBlockPin,
)
from templates_app.rendering import BlockSource

# Block versions a draft may preview with: the newest that is not dead.
DRAFT_BLOCK_STATUSES = (Status.DRAFT, Status.IN_REVIEW, Status.APPROVED)


class LanguageUnavailable(LookupError):
    """Neither the customer's language nor the template's default has content."""


def _as_sources(contents) -> dict[str, BlockSource]:
    sources: dict[str, BlockSource] = {}
    for content in contents:
        code = content.version.block.code
        # Contents arrive newest first, so the first seen per code wins.
        sources.setdefault(
            code,
            BlockSource(
                code=code,
                version_id=content.version_id,
                number=content.version.number,
                html=content.html,
                text=content.text,
            ),
        )
    return sources


def block_sources_latest(
    language: str, *, include_drafts: bool
) -> dict[str, BlockSource]:
    """Return each block's newest approved (or, for drafts, newest live) content."""
    statuses = DRAFT_BLOCK_STATUSES if include_drafts else (Status.APPROVED,)
    contents = (
        ContentBlockContent.objects.filter(
            language=language, version__status__in=statuses
        )
        .select_related("version__block")
        .order_by("version__block__code", "-version__number")
    )
    return _as_sources(contents)


def block_sources_for_version(
    version: TemplateVersion, language: str
) -> dict[str, BlockSource]:
    """Return the block contents a version renders with in a language.

    A draft follows the newest block versions; a submitted version uses exactly
    the block versions pinned to it.
    """
    if version.is_editable:
        return block_sources_latest(language, include_drafts=True)
    contents = (
        ContentBlockContent.objects.filter(
            language=language, version__pins__version=version
        )
        .select_related("version__block")
        .order_by("version__block__code", "-version__number")
    )
    return _as_sources(contents)


def block_codes() -> set[str]:
    """Return the codes of all content blocks."""
    return set(ContentBlock.objects.values_list("code", flat=True))


def language_choose(
    version: TemplateVersion, *, channel: str, customer_language: str | None
) -> str:
    """Return the customer's language if the version has it, else the default."""
    available = {
        content.language
        for content in version.contents.all()
        if content.channel == channel
        and all(
            getattr(content, name).strip() for name in CHANNEL_REQUIRED_FIELDS[channel]
        )
    }
    if customer_language in available:
        return customer_language
    default = version.template.default_language
    if default in available:
        return default
    raise LanguageUnavailable(
        f"{version} has no {channel} content in {customer_language or '-'} "
        f"nor in the default language {default}"
    )


def version_latest(template: Template) -> TemplateVersion | None:
    """Return the template's highest-numbered version."""
    return template.versions.order_by("-number").first()


def version_next_number(template: Template) -> int:
    """Return the number the template's next version gets."""
    top = template.versions.aggregate(top=Max("number"))["top"]
    return (top or 0) + 1


def block_where_used(block: ContentBlock) -> QuerySet[VersionBlockPin]:
    """Return the template versions that pin any version of a block."""
    return (
        VersionBlockPin.objects.filter(block_version__block=block)
        .select_related("version__template", "block_version")
        .order_by("version__template__code", "-version__number")
    )
