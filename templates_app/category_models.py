"""Categories: the business lines that permissions, approvals and kinds hang on.

Kept apart from `templates_app.models`, which re-exports them; a change of a
category's kind or required approvals is a proposal another person approves.
"""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ccm.bidi import bidi_controls_refuse, bidi_visible, sequence
from ccm.proposals import FourEyesProposal


class DisplayNamed:
    """A name in English (`name`) and in Arabic (`name_ar`), shown to each reader.

    A display name decides nothing that is sent: it changes without approval,
    audited (docs/templates.md).
    """

    @property
    def display_name(self) -> str:
        """Return the name in the active language, else in the other one.

        Direction controls in a name stored before names refused them are
        shown ([U+202E]), never applied.
        """
        arabic = (get_language() or "").startswith("ar")
        if arabic:
            return bidi_visible(self.name_ar or self.name)
        return bidi_visible(self.name or self.name_ar)


class Category(DisplayNamed, models.Model):
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
    name = models.CharField(
        _("name in English"), max_length=200, validators=[bidi_controls_refuse]
    )
    name_ar = models.CharField(
        _("name in Arabic"),
        max_length=200,
        blank=True,
        validators=[bidi_controls_refuse],
    )
    required_approvals = models.PositiveSmallIntegerField(
        _("required approvals"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("Distinct reviewers who must approve a version."),
    )
    allow_remote_images = models.BooleanField(
        _("allow remote images in emails"),
        default=False,
        help_text=_(
            "Off: an image in an email of this category must be attached (cid:); "
            "a remote one (https://...) loses its address when the email is "
            "rendered, so no third party learns who opened it and when."
        ),
    )
    recertify_months = models.PositiveSmallIntegerField(
        _("re-certification period (months)"),
        default=0,
        help_text=_(
            "How long an approval stays valid before a reviewer must re-certify "
            "the version in force; 0: approvals do not expire."
        ),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        # Granted per category with django-guardian (or globally, for all).
        permissions = [
            ("author_category", _("Can author templates in the category")),
            ("review_category", _("Can review templates in the category")),
            (
                "manage_category_permissions",
                _("Can grant authoring and review in categories"),
            ),
            (
                "approve_category_change",
                _("Can approve a change of a category's kind or required approvals"),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class CategoryChange(FourEyesProposal):
    """A proposed change of a category's kind or required approvals.

    The kind decides whether the category's messages override opt-outs, and
    the required approvals how many reviewers approve its templates, so a
    change takes effect only when someone other than the proposer approves it.
    """

    # The fields a proposal may change; anything else changes directly, audited.
    FIELDS = ("kind", "required_approvals", "recertify_months")

    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="changes",
        verbose_name=_("category"),
    )
    kind = models.CharField(_("proposed kind"), max_length=16, choices=Category.Kind)
    required_approvals = models.PositiveSmallIntegerField(
        _("proposed required approvals"), validators=[MinValueValidator(1)]
    )
    recertify_months = models.PositiveSmallIntegerField(
        _("proposed re-certification period (months)"), default=0
    )
    before = models.JSONField(_("values when proposed"), default=dict)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        verbose_name = _("category change")
        verbose_name_plural = _("category changes")
        constraints = [
            models.UniqueConstraint(
                fields=["category"],
                condition=Q(status="proposed"),
                name="tpl_category_one_open_change",
                violation_error_message=_(
                    "A category has at most one proposed change at a time."
                ),
            ),
            models.CheckConstraint(
                condition=Q(required_approvals__gte=1),
                name="tpl_category_change_approvals_min",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(category)s: %(values)s (%(status)s)") % {
            "category": self.category,
            "values": ", ".join(
                f"{self._meta.get_field(name).verbose_name} "
                + sequence(self.before.get(name), getattr(self, name))
                for name in self.FIELDS
                if self.before.get(name) != getattr(self, name)
            ),
            "status": self.get_status_display(),
        }

    def proposed(self) -> dict:
        """Return the values this change would give the category."""
        return {name: getattr(self, name) for name in self.FIELDS}
