"""Project-wide vocabulary: worker liveness, per-user settings, role grants."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models import validate_time_zone


class Heartbeat(models.Model):
    """The last time a named periodic process proved it was alive."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    last_seen = models.DateTimeField(_("last seen"))
    hostname = models.CharField(_("host"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class UserSettings(models.Model):
    """Per-user choices that follow the user across browsers."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="ccm_settings",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text=_(
            "The zone times are shown in, e.g. Asia/Riyadh; empty for the site's "
            "display time zone."
        ),
    )

    class Meta:
        verbose_name = _("user settings")
        verbose_name_plural = _("user settings")

    def __str__(self) -> str:
        return f"{self.user}: {self.language or '-'}"


class RoleGrant(models.Model):
    """A request to give a user a role, or a user or group a category permission.

    Nothing is granted until an operator other than the requester (and other
    than the grantee) approves it; the grant is applied in the same transaction
    as its approval and audit event (`ccm.grants`).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved and applied")
        REFUSED = "refused", _("Refused")

    # Pending is the only state a decision leaves; both decisions are final.
    TRANSITIONS = {
        Status.PENDING: frozenset({Status.APPROVED, Status.REFUSED}),
        Status.APPROVED: frozenset(),
        Status.REFUSED: frozenset(),
    }
    # The category permissions a grant may carry (templates_app.selectors).
    CATEGORY_PERMISSIONS = (
        ("author_category", _("Author templates")),
        ("review_category", _("Review templates")),
    )

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
        help_text=_("Who receives the role or permission."),
    )
    group = models.ForeignKey(
        "auth.Group",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("group"),
        help_text=_("Or the group that receives a category permission."),
    )
    role = models.ForeignKey(
        "auth.Group",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("role"),
        help_text=_("The role the user joins."),
    )
    category = models.ForeignKey(
        "templates_app.Category",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("category"),
    )
    permission = models.CharField(
        _("category permission"),
        max_length=32,
        choices=CATEGORY_PERMISSIONS,
        blank=True,
    )
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    comment = models.TextField(_("decision comment"), blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("role grant")
        verbose_name_plural = _("role grants")
        permissions = [
            ("approve_rolegrant", _("Can approve or refuse another's role grant")),
        ]
        constraints = [
            # A role for a user, or a category permission for a user or group.
            models.CheckConstraint(
                condition=(
                    Q(
                        role__isnull=False,
                        user__isnull=False,
                        group__isnull=True,
                        category__isnull=True,
                        permission="",
                    )
                    | (
                        Q(role__isnull=True, category__isnull=False)
                        & ~Q(permission="")
                        & (
                            Q(user__isnull=False, group__isnull=True)
                            | Q(user__isnull=True, group__isnull=False)
                        )
                    )
                ),
                name="ccm_rolegrant_one_shape",
            ),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=Q(status="pending", role__isnull=False),
                name="ccm_rolegrant_one_pending_role",
                violation_error_message=_("This role is already requested."),
            ),
            models.UniqueConstraint(
                fields=["user", "category", "permission"],
                condition=Q(status="pending", user__isnull=False, role__isnull=True),
                name="ccm_rolegrant_one_pending_user_permission",
                violation_error_message=_("This permission is already requested."),
            ),
            models.UniqueConstraint(
                fields=["group", "category", "permission"],
                condition=Q(status="pending", group__isnull=False),
                name="ccm_rolegrant_one_pending_group_permission",
                violation_error_message=_("This permission is already requested."),
            ),
        ]

    def __str__(self) -> str:
        grantee = self.user or self.group
        what = (
            self.role
            if self.role_id
            else f"{self.get_permission_display()} · {self.category}"
        )
        return f"{grantee} ← {what} ({self.get_status_display()})"

    def clean(self) -> None:
        """Refuse a grant that is neither a user's role nor a category permission."""
        if self.role_id:
            if not self.user_id or self.group_id or self.category_id or self.permission:
                raise ValidationError(
                    _("A role is granted to one user, with no category permission.")
                )
        elif not (self.category_id and self.permission):
            raise ValidationError(
                _("Choose a role, or a category and the permission in it.")
            )
        elif bool(self.user_id) == bool(self.group_id):
            raise ValidationError(
                _("A category permission goes to either a user or a group.")
            )
