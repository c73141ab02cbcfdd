"""Vocabulary of template authoring: categories, templates, versions, blocks."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

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


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded")
    RETIRED = "retired", _("Retired")


# Content may change only while a version is a draft; from submission on it is
# frozen, so what a reviewer approves is exactly what is sent.
EDITABLE_STATUSES = frozenset({Status.DRAFT})

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


class Category(models.Model):
    """A business line; permissions and approval rules hang on it."""

    class Kind(models.TextChoices):
        # Service messages go unless the customer opted out; marketing needs an
        # opt-in; mandatory (regulatory) notices override opt-outs, never a
        # hard suppression.
        SERVICE = "service", _("Service")
        MARKETING = "marketing", _("Marketing")
        MANDATORY = "mandatory", _("Mandatory (regulatory)")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    kind = models.CharField(
        _("kind"), max_length=16, choices=Kind.choices, default=Kind.SERVICE
    )
    name = models.CharField(_("name"), max_length=200)
    name_ar = models.CharField(_("name in Arabic"), max_length=200, blank=True)
    required_approvals = models.PositiveSmallIntegerField(
        _("required approvals"),
        default=1,
        help_text=_("Distinct reviewers who must approve a version."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Template(models.Model):
    """A logical communication, identified by a stable code used by the API."""

    code = models.SlugField(
        _("code"), max_length=100, unique=True, validators=[code_validator]
    )
    name = models.CharField(_("name"), max_length=200)
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
    data_schema = models.JSONField(
        _("data schema"),
        default=dict,
        help_text=_("JSON Schema of the data the template needs."),
    )
    sample_data = models.JSONField(
        _("sample data"),
        default=dict,
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
        return f"{self.name} ({self.code})"


class TemplateVersion(models.Model):
    """A numbered revision of a template, with content per channel and language."""

    Status = Status

    template = models.ForeignKey(
        Template,
        on_delete=models.PROTECT,
        related_name="versions",
        verbose_name=_("template"),
    )
    number = models.PositiveIntegerField(_("number"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    block_versions = models.ManyToManyField(
        "ContentBlockVersion",
        through="VersionBlockPin",
        related_name="template_versions",
        verbose_name=_("pinned block versions"),
        blank=True,
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
        ]

    def __str__(self) -> str:
        return f"{self.template.code} v{self.number} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class VersionContent(models.Model):
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


class ContentBlock(models.Model):
    """A reusable fragment (letterhead, legal footer), included by its code."""

    code = models.SlugField(
        _("code"), max_length=100, unique=True, validators=[code_validator]
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("content block")
        verbose_name_plural = _("content blocks")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ContentBlockVersion(models.Model):
    """A numbered revision of a content block, with content per language."""

    Status = Status

    block = models.ForeignKey(
        ContentBlock,
        on_delete=models.PROTECT,
        related_name="versions",
        verbose_name=_("block"),
    )
    number = models.PositiveIntegerField(_("number"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["block", "-number"]
        verbose_name = _("content block version")
        verbose_name_plural = _("content block versions")
        constraints = [
            models.UniqueConstraint(
                fields=["block", "number"], name="tpl_block_version_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.block.code} v{self.number} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class ContentBlockContent(models.Model):
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


class VersionBlockPin(models.Model):
    """The exact block version a template version renders with."""

    version = models.ForeignKey(
        TemplateVersion, on_delete=models.CASCADE, related_name="pins"
    )
    block_version = models.ForeignKey(
        ContentBlockVersion, on_delete=models.PROTECT, related_name="pins"
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
        return f"{self.version} → {self.block_version}"
