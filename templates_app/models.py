"""Vocabulary of template authoring: categories, templates, versions, blocks."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ccm.bidi import bidi_controls_refuse, sequence
from templates_app.category_models import (  # noqa: F401 (re-exported)
    Category,
    CategoryChange,
    DisplayNamed,
)
from templates_app.formats import Calendar, Digits
from templates_app.versioned import (  # noqa: F401 (the vocabulary, re-exported)
    EDITABLE_STATUSES,
    EVER_APPROVED_STATUSES,
    OPEN_STATUSES,
    TRANSITIONS,
    ContentFrozen,
    FrozenWithVersion,
    Status,
    StatusWriteRefused,
    WorkflowGuarded,
    WorkflowQuerySet,
    WorkflowVersion,
)

code_validator = RegexValidator(
    r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
    _("Use lower-case letters, digits, hyphens and underscores."),
)


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    LETTER = "letter", _("Letter")


class Language(models.TextChoices):
    EN = "en", _("English")
    AR = "ar", _("Arabic")


# The template settings a reviewer approves with the content: copied from the
# template onto each version while it is a draft, frozen from submission on,
# covered by the content hash, and read by the send path from the version in
# force. The template row holds the settings the next draft will carry.
SETTINGS_FIELDS = (
    "category",
    "channels",
    "default_language",
    "data_schema",
    "digits",
    "calendar",
)
# How a version's content hash was computed: 1 covered the content and pinned
# blocks only (versions submitted before settings were frozen on versions),
# 2 also covers the first four SETTINGS_FIELDS, 3 also digits and calendar
# (older versions render with Latin digits and the Gregorian calendar).
HASH_SCHEME_CONTENT = 1
HASH_SCHEME_SETTINGS = 2
HASH_SCHEME_FORMATS = 3
HASH_SCHEME_CURRENT = HASH_SCHEME_FORMATS


# The fields each channel's content uses, and those that must not be empty.
CHANNEL_FIELDS = {
    Channel.EMAIL: ("subject", "html", "text"),
    Channel.SMS: ("sms_text",),
    Channel.LETTER: ("letter_html", "letter_css"),
}
CHANNEL_REQUIRED_FIELDS = {
    Channel.EMAIL: ("subject", "html"),
    Channel.SMS: ("sms_text",),
    Channel.LETTER: ("letter_html",),
}
# Fields that are Jinja sources; letter CSS is plain CSS, never templated.
TEMPLATED_FIELDS = frozenset({"subject", "html", "text", "sms_text", "letter_html"})
# Fields rendered with HTML autoescaping.
HTML_FIELDS = frozenset({"html", "letter_html"})


class Template(DisplayNamed, models.Model):
    """A logical communication, identified by a stable code used by the API."""

    code = models.SlugField(
        _("code"), max_length=100, unique=True, validators=[code_validator]
    )
    name = models.CharField(
        _("name in English"), max_length=200, validators=[bidi_controls_refuse]
    )
    name_ar = models.CharField(
        _("name in Arabic"),
        max_length=200,
        blank=True,
        validators=[bidi_controls_refuse],
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="templates",
        verbose_name=_("category"),
    )
    description = models.TextField(_("description"), blank=True)
    channels = models.JSONField(
        _("channels"), default=list, help_text=_("Channels this template supports.")
    )
    default_language = models.CharField(
        _("default language"),
        max_length=8,
        choices=Language.choices,
        default=Language.EN,
    )
    # Blank (`{}`) accepts any data: a new template has none until it is
    # drafted from the content.
    data_schema = models.JSONField(
        _("data schema"),
        default=dict,
        blank=True,
        help_text=_("JSON Schema of the data the template needs."),
    )
    digits = models.CharField(
        _("digits"),
        max_length=8,
        choices=Digits.choices,
        default=Digits.LATIN,
        help_text=_(
            "Digits of numbers, money and dates in Arabic content, unless the "
            "customer prefers other digits."
        ),
    )
    calendar = models.CharField(
        _("calendar"),
        max_length=10,
        choices=Calendar.choices,
        default=Calendar.GREGORIAN,
        help_text=_(
            "Calendar of the dates in the messages, unless the customer prefers "
            "another."
        ),
    )
    sample_data = models.JSONField(
        _("sample data"),
        default=dict,
        blank=True,
        help_text=_("Example data matching the schema, used for previews."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("template")
        verbose_name_plural = _("templates")

    def __str__(self) -> str:
        return f"{self.display_name} ({self.code})"


class TemplateVersion(WorkflowVersion):
    """A numbered revision of a template, with content per channel and language.

    It carries the template's settings (SETTINGS_FIELDS) it was submitted with:
    what decides what is sent, and to whom, is part of what a reviewer approves.
    """

    frozen_fields = (*SETTINGS_FIELDS, "hash_scheme")

    template = models.ForeignKey(
        Template,
        on_delete=models.PROTECT,
        related_name="versions",
        verbose_name=_("template"),
    )
    block_versions = models.ManyToManyField(
        "ContentBlockVersion",
        through="VersionBlockPin",
        related_name="template_versions",
        verbose_name=_("pinned block versions"),
        blank=True,
    )
    based_on = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("based on"),
    )
    effective_from = models.DateTimeField(
        _("effective from"),
        null=True,
        blank=True,
        help_text=_("When the approved version takes effect; empty means on approval."),
    )
    effective_until = models.DateTimeField(
        _("effective until"),
        null=True,
        blank=True,
        help_text=_("When it stops being in force; empty means until replaced."),
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="versions",
        verbose_name=_("category"),
    )
    channels = models.JSONField(_("channels"), default=list)
    default_language = models.CharField(
        _("default language"),
        max_length=8,
        choices=Language.choices,
        default=Language.EN,
    )
    data_schema = models.JSONField(_("data schema"), default=dict)
    digits = models.CharField(
        _("digits"),
        max_length=8,
        choices=Digits.choices,
        default=Digits.LATIN,
        help_text=_(
            "Digits of numbers, money and dates in Arabic content, unless the "
            "customer prefers other digits."
        ),
    )
    calendar = models.CharField(
        _("calendar"),
        max_length=10,
        choices=Calendar.choices,
        default=Calendar.GREGORIAN,
        help_text=_(
            "Calendar of the dates in the messages, unless the customer prefers "
            "another."
        ),
    )
    hash_scheme = models.PositiveSmallIntegerField(
        _("hash scheme"),
        default=HASH_SCHEME_CURRENT,
        help_text=_(
            "1: the hash covers the content; 2: content and settings; 3: also "
            "digits and calendar."
        ),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["template", "-number"]
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"], name="tpl_version_number_unique"
            ),
            models.UniqueConstraint(
                fields=["template"],
                condition=Q(status__in=[Status.DRAFT, Status.IN_REVIEW]),
                name="tpl_version_one_open",
                violation_error_message=_(
                    "A template has at most one draft or version in review."
                ),
            ),
            models.CheckConstraint(
                condition=Q(effective_until__isnull=True)
                | Q(effective_from__isnull=True)
                | Q(effective_until__gte=models.F("effective_from")),
                name="tpl_version_effective_order",
            ),
            # On every database, at most one open-ended approved version per
            # template; PostgreSQL also refuses any overlap of effective ranges
            # (the exclusion constraint in migration 0004).
            models.UniqueConstraint(
                fields=["template"],
                condition=Q(status=Status.APPROVED, effective_until__isnull=True),
                name="tpl_version_one_open_ended",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.code} v{self.number} ({self.get_status_display()})"


class VersionContent(FrozenWithVersion):
    """The content of one version on one channel in one language."""

    version = models.ForeignKey(
        TemplateVersion,
        on_delete=models.CASCADE,
        related_name="contents",
        verbose_name=_("version"),
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    subject = models.CharField(_("email subject"), max_length=500, blank=True)
    html = models.TextField(_("email HTML"), blank=True)
    text = models.TextField(
        _("email plain text"),
        blank=True,
        help_text=_("Derived from the HTML when left empty."),
    )
    sms_text = models.TextField(_("SMS text"), blank=True)
    letter_html = models.TextField(_("letter HTML"), blank=True)
    letter_css = models.TextField(_("letter CSS"), blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["channel", "language"]
        verbose_name = _("version content")
        verbose_name_plural = _("version contents")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "channel", "language"],
                name="tpl_content_channel_language_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.channel}/{self.language}"

    def sources(self) -> dict[str, str]:
        """Return this channel's fields and their text."""
        return {name: getattr(self, name) for name in CHANNEL_FIELDS[self.channel]}


class ContentBlock(DisplayNamed, models.Model):
    """A reusable fragment (letterhead, legal footer), included by its code."""

    code = models.SlugField(
        _("code"), max_length=100, unique=True, validators=[code_validator]
    )
    name = models.CharField(
        _("name in English"), max_length=200, validators=[bidi_controls_refuse]
    )
    name_ar = models.CharField(
        _("name in Arabic"),
        max_length=200,
        blank=True,
        validators=[bidi_controls_refuse],
    )
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="blocks",
        verbose_name=_("category"),
        help_text=_(
            "The business line that owns the block: its required approvals apply "
            "to the block's versions. Without one, a version needs one approval."
        ),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("content block")
        verbose_name_plural = _("content blocks")
        # Blocks are shared by every category, so reviewing them is granted
        # globally rather than per category.
        permissions = [("review_contentblock", _("Can review content blocks"))]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.code})"


class ContentBlockVersion(WorkflowVersion):
    """A numbered revision of a content block, with content per language."""

    block = models.ForeignKey(
        ContentBlock,
        on_delete=models.PROTECT,
        related_name="versions",
        verbose_name=_("block"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["block", "-number"]
        verbose_name = _("content block version")
        verbose_name_plural = _("content block versions")
        constraints = [
            models.UniqueConstraint(
                fields=["block", "number"], name="tpl_block_version_number_unique"
            ),
            models.UniqueConstraint(
                fields=["block"],
                condition=Q(status__in=[Status.DRAFT, Status.IN_REVIEW]),
                name="tpl_block_version_one_open",
                violation_error_message=_(
                    "A block has at most one draft or version in review."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.block.code} v{self.number} ({self.get_status_display()})"


class ContentBlockContent(FrozenWithVersion):
    """The content of one block version in one language."""

    version = models.ForeignKey(
        ContentBlockVersion,
        on_delete=models.CASCADE,
        related_name="contents",
        verbose_name=_("block version"),
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    html = models.TextField(_("HTML"), blank=True)
    text = models.TextField(
        _("plain text"), blank=True, help_text=_("Used in plain text and SMS.")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["language"]
        verbose_name = _("block content")
        verbose_name_plural = _("block contents")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "language"], name="tpl_block_content_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.language}"


class VersionBlockPin(FrozenWithVersion):
    """The exact block version a template version renders with."""

    version = models.ForeignKey(
        TemplateVersion,
        on_delete=models.CASCADE,
        related_name="pins",
        verbose_name=_("version"),
    )
    block_version = models.ForeignKey(
        ContentBlockVersion,
        on_delete=models.PROTECT,
        related_name="pins",
        verbose_name=_("block version"),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("pinned block version")
        verbose_name_plural = _("pinned block versions")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "block_version"], name="tpl_pin_unique"
            ),
        ]

    def __str__(self) -> str:
        return sequence(self.version, self.block_version)


class Approval(models.Model):
    """One reviewer's approval of one submission of a template or block version.

    Approvals bind to the content hash they saw; only those given since the
    latest submission count towards the category's required approvals.
    """

    version = models.ForeignKey(
        TemplateVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approvals",
        verbose_name=_("template version"),
    )
    block_version = models.ForeignKey(
        ContentBlockVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approvals",
        verbose_name=_("block version"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    comment = models.TextField(_("comment"), blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("approval")
        verbose_name_plural = _("approvals")
        constraints = [
            models.CheckConstraint(
                condition=Q(version__isnull=False, block_version__isnull=True)
                | Q(version__isnull=True, block_version__isnull=False),
                name="tpl_approval_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version or self.block_version} ✓ {self.reviewer}"


class Recertification(models.Model):
    """A reviewer's confirmation that a version in force is still right, unchanged.

    It renews the approval for the category's re-certification period without
    a new version; the content hash binds it to what the reviewer saw.
    """

    version = models.ForeignKey(
        TemplateVersion,
        on_delete=models.PROTECT,
        related_name="recertifications",
        verbose_name=_("template version"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    comment = models.TextField(_("comment"), blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("re-certification")
        verbose_name_plural = _("re-certifications")
        indexes = [models.Index(fields=["version", "-at"], name="tpl_recert_idx")]

    def __str__(self) -> str:
        return f"{self.version} ✓ {self.reviewer} {self.at:%Y-%m-%d}"
