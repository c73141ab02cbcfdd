"""The audit vocabulary: append-only events chained by SHA-256, and the chain head."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEventIsAppendOnly(Exception):
    """Something tried to change or remove a recorded audit event."""


class AuditEventQuerySet(models.QuerySet):
    """Events can be read and inserted; bulk changes are refused."""

    def update(self, **kwargs):
        raise AuditEventIsAppendOnly("audit events cannot be updated")

    def delete(self):
        raise AuditEventIsAppendOnly("audit events cannot be deleted")

    def for_subject(self, subject: models.Model) -> "AuditEventQuerySet":
        """Return the events about one object, oldest first."""
        return self.filter(
            content_type=ContentType.objects.get_for_model(subject),
            object_id=str(subject.pk),
        ).order_by("sequence")


class AuditEvent(models.Model):
    """One thing that happened: who did what to which object, and why.

    Rows are written only by `audit.services`; `sequence` is gapless and
    `hash` chains each event to the one before it (see `audit.hashing`).
    """

    class ActorKind(models.TextChoices):
        USER = "user", _("user")
        API_CLIENT = "api_client", _("API client")
        SYSTEM = "system", _("system")
        CUSTOMER = "customer", _("customer (self-service)")

    sequence = models.PositiveBigIntegerField(
        _("sequence"), primary_key=True, editable=False
    )
    created = models.DateTimeField(_("created"), editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    actor_kind = models.CharField(
        _("actor kind"), max_length=16, choices=ActorKind.choices
    )
    action = models.CharField(_("action"), max_length=100)
    # PROTECT: a content type that events point to must outlive them.
    content_type = models.ForeignKey(
        ContentType,
        verbose_name=_("subject type"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    object_id = models.CharField(_("subject id"), max_length=64, blank=True)
    subject_label = models.CharField(_("subject"), max_length=255, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    correlation_id = models.CharField(
        _("correlation id"), max_length=64, blank=True, db_index=True
    )
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["sequence"]
        get_latest_by = "sequence"
        indexes = [
            models.Index(
                fields=["content_type", "object_id"], name="audit_event_subject"
            ),
            models.Index(fields=["action", "created"], name="audit_event_action"),
            models.Index(fields=["created"], name="audit_event_created"),
        ]

    def __str__(self) -> str:
        from audit.vocabulary import action_label

        return _("#%(sequence)s %(action)s by %(actor)s") % {
            "sequence": self.sequence,
            "action": action_label(self.action),
            "actor": self.actor_shown or "-",
        }

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditEventIsAppendOnly("audit events cannot be updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEventIsAppendOnly("audit events cannot be deleted")

    @property
    def actor_shown(self) -> str:
        """Return who acted as a reader reads it: the system named in their language."""
        if self.actor_kind == self.ActorKind.SYSTEM and self.actor_label == "system":
            return str(self.ActorKind.SYSTEM.label)
        return self.actor_label


class AuditChainHead(models.Model):
    """The single row that holds the end of the chain; writers lock it in turn."""

    last_sequence = models.PositiveBigIntegerField(_("last sequence"), default=0)
    last_hash = models.CharField(_("last hash"), max_length=64)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")

    def __str__(self) -> str:
        return f"#{self.last_sequence} {self.last_hash[:12]}"


class DataSubjectKey(models.Model):
    """One data subject's key for the personal fields of their audit events.

    Outside the chain: destroying the key (clearing `wrapped`) makes what was
    sealed under it unreadable without changing any event or hash.
    """

    # Who the key belongs to, as the registering app names them ("customer:42").
    owner = models.CharField(_("data subject"), max_length=100, unique=True)
    # The 256-bit AES key, Fernet-wrapped under the master key; "" once destroyed.
    wrapped = models.TextField(_("wrapped key"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    destroyed = models.DateTimeField(_("destroyed"), null=True, blank=True)

    class Meta:
        verbose_name = _("data subject key")
        verbose_name_plural = _("data subject keys")

    def __str__(self) -> str:
        return self.owner
