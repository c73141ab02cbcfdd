"""Reads with rules: block versions a render uses, language, where-used,
category permissions, reviewers, editors and the version in force."""

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Permission
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user, get_users_with_perms

from ccm.problems import DomainError
from templates_app import problems
from templates_app.models import (
    CHANNEL_REQUIRED_FIELDS,
    EVER_APPROVED_STATUSES,
    Approval,
    Category,
    ContentBlock,
    ContentBlockContent,
    ContentBlockVersion,
    Status,
    Template,
    TemplateVersion,
    VersionBlockPin,
    VersionContent,
)
from templates_app.rendering import BlockSource

# The template columns behind SETTINGS_FIELDS, as history rows store them.
TEMPLATE_SETTINGS_COLUMNS = (
    "category_id",
    "channels",
    "default_language",
    "data_schema",
    "digits",
    "calendar",
)

# Block versions a draft may preview with: the newest that is not dead.
DRAFT_BLOCK_STATUSES = (Status.DRAFT, Status.IN_REVIEW, Status.APPROVED)


class LanguageUnavailable(DomainError, LookupError):
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
    pins = getattr(version, "pins_loaded", None)
    if pins is not None:
        # Loaded with the version's hash check (version_verification_load).
        return _as_sources(
            content
            for pin in pins
            for content in pin.block_version.contents.all()
            if content.language == language
        )
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
    default = version.default_language
    if default in available:
        return default
    raise LanguageUnavailable(
        problems.LANGUAGE_UNAVAILABLE(
            version=version,
            channel=channel,
            language=customer_language or "-",
            default=default,
        )
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


AUTHOR = "author_category"
REVIEW = "review_category"
CATEGORY_PERMISSIONS = (AUTHOR, REVIEW)


def category_ids_for(user: AbstractBaseUser, *codenames: str) -> frozenset[int]:
    """Return the ids of the categories where the user holds any of the permissions.

    One query (two with a group lookup): a global grant of the permission, or
    superuser status, covers every category.
    """
    if not user.is_active:
        return frozenset()
    categories = get_objects_for_user(
        user,
        [f"templates_app.{codename}" for codename in codenames],
        klass=Category,
        any_perm=True,
        accept_global_perms=True,
    )
    return frozenset(categories.values_list("pk", flat=True))


def user_may(user: AbstractBaseUser, codename: str, category: Category) -> bool:
    """Return whether the user holds a category permission, globally or on it."""
    if not user.is_active:
        return False
    return user.has_perm(f"templates_app.{codename}") or user.has_perm(
        f"templates_app.{codename}", category
    )


def category_reviewers(category: Category) -> QuerySet:
    """Return the active users who may review in the category."""
    user_model = get_user_model()
    object_holders = get_users_with_perms(
        category, with_group_users=True, only_with_perms_in=[REVIEW]
    )
    permission = Permission.objects.filter(
        content_type__app_label="templates_app", codename=REVIEW
    )
    global_holders = user_model.objects.filter(
        Q(user_permissions__in=permission) | Q(groups__permissions__in=permission)
    )
    return (
        user_model.objects.filter(
            Q(pk__in=object_holders.values("pk")) | Q(pk__in=global_holders)
        )
        .filter(is_active=True)
        .distinct()
        .order_by("username")
    )


def block_reviewers() -> QuerySet:
    """Return the active users who may review content blocks (a global permission)."""
    permission = Permission.objects.filter(
        content_type__app_label="templates_app", codename="review_contentblock"
    )
    return (
        get_user_model()
        .objects.filter(
            Q(user_permissions__in=permission) | Q(groups__permissions__in=permission)
        )
        .filter(is_active=True)
        .distinct()
        .order_by("username")
    )


def version_editors(version: TemplateVersion) -> set[int]:
    """Return the ids of the author and of everyone who edited the version.

    Read from django-simple-history: the version's rows saved while it was a
    draft, every row of its content and pinned blocks, and whoever changed the
    template settings it carries (`template_settings_editors`).
    """
    editors = {version.author_id}
    for rows in (
        version.history.filter(status=Status.DRAFT),
        VersionContent.history.filter(version_id=version.pk),
        VersionBlockPin.history.filter(version_id=version.pk),
    ):
        editors.update(
            rows.exclude(history_user_id=None).values_list("history_user_id", flat=True)
        )
    return editors | template_settings_editors(version)


def version_lineage_writers(version: TemplateVersion) -> dict[int, TemplateVersion]:
    """Return who wrote or edited each earlier version the version descends from.

    The lineage follows `based_on` ("New draft from this version" and every new
    draft) back to the first version; each writer maps to the latest earlier
    version they wrote or edited. Their words may live on in this version, so
    they may not approve it.
    """
    writers: dict[int, TemplateVersion] = {}
    seen = {version.pk}
    earlier = version.based_on
    while earlier is not None and earlier.pk not in seen:
        seen.add(earlier.pk)
        for user_id in version_editors(earlier):
            writers.setdefault(user_id, earlier)
        earlier = earlier.based_on
    return writers


def template_settings_editors(version: TemplateVersion) -> set[int]:
    """Return the ids of the users who changed the settings the version carries.

    The window runs from the latest submission of another version of the
    template before this one's, whose settings were frozen then, to this
    version's submission (or now, for a draft): whoever saved the template
    with changed settings in between wrote part of what this version approves.
    """
    until = version.submitted_at or timezone.now()
    since = (
        version.template.versions.exclude(pk=version.pk)
        .filter(submitted_at__lt=until)
        .aggregate(since=Max("submitted_at"))["since"]
    )
    rows = (
        Template.history.filter(id=version.template_id, history_date__lte=until)
        .order_by("history_date", "history_id")
        .values_list("history_date", "history_user_id", *TEMPLATE_SETTINGS_COLUMNS)
    )
    editors: set[int] = set()
    previous = None
    for at, user_id, *settings in rows:
        if settings != previous and user_id and (since is None or at > since):
            editors.add(user_id)
        previous = settings
    return editors


def block_version_editors(block_version: ContentBlockVersion) -> set[int]:
    """Return the ids of the author and of everyone who edited the block version."""
    editors = {block_version.author_id}
    for rows in (
        block_version.history.filter(status=Status.DRAFT),
        ContentBlockContent.history.filter(version_id=block_version.pk),
    ):
        editors.update(
            rows.exclude(history_user_id=None).values_list("history_user_id", flat=True)
        )
    return editors


def block_lineage_writers(
    block_version: ContentBlockVersion,
) -> dict[int, ContentBlockVersion]:
    """Return who wrote or edited each earlier version of the block.

    A block draft always copies the block's newest version, so every earlier
    version is in its lineage; each writer maps to the latest one they wrote
    or edited, as for template versions (`version_lineage_writers`).
    """
    writers: dict[int, ContentBlockVersion] = {}
    earlier_versions = ContentBlockVersion.objects.filter(
        block_id=block_version.block_id, number__lt=block_version.number
    ).order_by("-number")
    for earlier in earlier_versions:
        for user_id in block_version_editors(earlier):
            writers.setdefault(user_id, earlier)
    return writers


def approvals_current(
    version: TemplateVersion | ContentBlockVersion,
) -> QuerySet[Approval]:
    """Return the approvals given since the version's latest submission."""
    approvals = version.approvals.select_related("reviewer")
    if version.submitted_at is not None:
        approvals = approvals.filter(at__gte=version.submitted_at)
    return approvals.order_by("at", "pk")


def version_in_force(
    template: Template, at: datetime | None = None
) -> TemplateVersion | None:
    """Return the version of a template in force at `at` (default: now), if any.

    A version is in force from its effective_from up to (not including) its
    effective_until; its approvals (`approvals_current`) say who approved it.
    """
    return (
        _in_force(template.versions.all(), at)
        .select_related("template__category", "category", "author")
        .first()
    )


def _in_force(versions: QuerySet[TemplateVersion], at: datetime | None):
    at = at or timezone.now()
    return (
        versions.filter(status__in=EVER_APPROVED_STATUSES, effective_from__lte=at)
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gt=at))
        .order_by("-effective_from")
    )


def versions_in_force(
    codes: Iterable[str], at: datetime | None = None
) -> dict[str, TemplateVersion]:
    """Return the version in force of each template code that has one, in one query.

    The same version as `version_in_force` gives for each template, with its
    template and its own (approved) category.
    """
    found: dict[str, TemplateVersion] = {}
    versions = TemplateVersion.objects.filter(template__code__in=list(codes))
    for version in _in_force(versions, at).select_related("template", "category"):
        found.setdefault(version.template.code, version)
    return found


def versions_for_user(user: AbstractBaseUser) -> QuerySet[TemplateVersion]:
    """Return the template versions in the categories the user authors or reviews."""
    return TemplateVersion.objects.filter(
        template__category_id__in=category_ids_for(user, *CATEGORY_PERMISSIONS)
    )


def block_dependents(block: ContentBlock) -> QuerySet[TemplateVersion]:
    """Return the approved template versions that pin any version of the block."""
    return (
        TemplateVersion.objects.filter(
            status=Status.APPROVED, pins__block_version__block=block
        )
        .select_related("template__category")
        .distinct()
        .order_by("template__code", "-number")
    )


def category_names() -> dict[str, str]:
    """Return each category's code -> its name in the active language."""
    return {
        category.code: category.display_name
        for category in Category.objects.only("code", "name", "name_ar")
    }
