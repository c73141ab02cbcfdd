"""Stored results of the inventory analysis: what exists, what is used, what repeats.

A run (`InventoryRun`) is computed by a job and replaces the previous run's
rows when it finishes; the pages read the latest finished run only.
"""

from django.conf import settings
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _


class InventoryRun(models.Model):
    """One analysis of every template and block: when, how long, what it found."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        FAILED = "failed", _("Failed")

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    started = models.DateTimeField(_("started"), auto_now_add=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    seconds = models.FloatField(_("seconds"), null=True, blank=True)
    threshold = models.FloatField(_("similarity threshold"), default=0.8)
    items = models.PositiveIntegerField(_("templates and blocks"), default=0)
    documents = models.PositiveIntegerField(_("texts compared"), default=0)
    pairs = models.PositiveIntegerField(_("near-duplicate pairs"), default=0)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )

    class Meta:
        ordering = ["-started", "-pk"]
        verbose_name = _("inventory run")
        verbose_name_plural = _("inventory runs")
        permissions = [("run_inventory", _("Can start an inventory analysis"))]

    def __str__(self) -> str:
        started = formats.date_format(
            timezone.localtime(self.started), "SHORT_DATETIME_FORMAT"
        )
        return f"#{self.pk} {self.get_status_display()} {started}"


class InventoryItem(models.Model):
    """A template or a content block as the latest run saw it."""

    class Kind(models.TextChoices):
        TEMPLATE = "template", _("Template")
        BLOCK = "block", _("Content block")

    run = models.ForeignKey(
        InventoryRun, on_delete=models.CASCADE, related_name="+", verbose_name=_("run")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    template = models.ForeignKey(
        "templates_app.Template",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("template"),
    )
    block = models.ForeignKey(
        "templates_app.ContentBlock",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("content block"),
    )
    code = models.CharField(_("code"), max_length=100)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=200, blank=True)
    owner = models.CharField(_("owner"), max_length=150, blank=True)
    languages = models.CharField(_("languages"), max_length=50, blank=True)
    channels = models.CharField(_("channels"), max_length=50, blank=True)
    version_number = models.PositiveIntegerField(
        _("version in force"), null=True, blank=True
    )
    version = models.ForeignKey(
        "templates_app.TemplateVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("template version in force"),
    )
    last_approved = models.DateTimeField(_("last approved"), null=True, blank=True)
    certified_until = models.DateTimeField(_("certified until"), null=True, blank=True)
    sent_30 = models.PositiveIntegerField(_("sent, 30 days"), default=0)
    sent_365 = models.PositiveIntegerField(_("sent, 365 days"), default=0)
    last_sent = models.DateTimeField(_("last sent"), null=True, blank=True)
    complaints_365 = models.PositiveIntegerField(_("complaints, 365 days"), default=0)
    complaint_rate = models.FloatField(_("complaint rate"), null=True, blank=True)
    blocks = models.CharField(_("blocks used"), max_length=500, blank=True)
    used_by = models.PositiveIntegerField(
        _("used by templates in force"), null=True, blank=True
    )

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("inventory entry")
        verbose_name_plural = _("inventory")
        indexes = [models.Index(fields=["run", "kind", "code"], name="inv_item_idx")]

    def __str__(self) -> str:
        return f"{self.name_shown} ({self.code})"

    @property
    def name_shown(self) -> str:
        """The name in the reader's language; the run's snapshot if it is gone."""
        source = self.template or self.block
        return source.display_name if source else self.name

    @property
    def category_shown(self) -> str:
        """The template's category in the reader's language, else as recorded."""
        if self.template is not None:
            return self.template.category.display_name
        return self.category


class DuplicatePair(models.Model):
    """Two templates, or two blocks, whose text is at least `threshold` alike."""

    class Difference(models.TextChoices):
        IDENTICAL = "identical", _("Identical")
        VARIABLES = "variables", _("Variables only")
        LANGUAGE = "language", _("Language only")
        CHANNELS = "channels", _("Channels only")
        PARAGRAPH = "paragraph", _("One paragraph")
        WORDING = "wording", _("Several passages")

    run = models.ForeignKey(
        InventoryRun, on_delete=models.CASCADE, related_name="+", verbose_name=_("run")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=InventoryItem.Kind)
    left = models.ForeignKey(
        InventoryItem,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("first"),
    )
    right = models.ForeignKey(
        InventoryItem,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("second"),
    )
    similarity = models.FloatField(_("similarity"))
    difference = models.CharField(
        _("difference"), max_length=16, choices=Difference.choices
    )
    slots = models.JSONField(_("similarity per channel and language"), default=dict)
    cluster = models.PositiveIntegerField(_("cluster"))
    cluster_size = models.PositiveIntegerField(_("cluster size"), default=2)

    class Meta:
        ordering = ["-similarity", "pk"]
        verbose_name = _("near-duplicate pair")
        verbose_name_plural = _("near-duplicates")

    def __str__(self) -> str:
        return f"{self.left.code} ≈ {self.right.code} ({self.similarity:.0%})"


class ParagraphCandidate(models.Model):
    """A paragraph found (nearly) word for word in several templates: a block to be."""

    run = models.ForeignKey(
        InventoryRun, on_delete=models.CASCADE, related_name="+", verbose_name=_("run")
    )
    key = models.CharField(_("key"), max_length=32)
    language = models.CharField(_("language"), max_length=8)
    text = models.TextField(_("paragraph"))
    source = models.TextField(_("paragraph as written"))
    template_count = models.PositiveIntegerField(_("templates"))
    # [{"template": id, "code": ..., "channel": ..., "field": ...}, ...]
    occurrences = models.JSONField(_("where it appears"), default=list)
    extracted_block = models.ForeignKey(
        "templates_app.ContentBlock",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("extracted into"),
    )

    class Meta:
        ordering = ["-template_count", "pk"]
        verbose_name = _("block candidate")
        verbose_name_plural = _("block candidates")

    def __str__(self) -> str:
        return self.text[:80]
