"""The registered audit actions: dotted names, each with a description.

Apps register their own actions in `AppConfig.ready()`; recording an event with
an unregistered action is refused, so a typo cannot slip into the permanent
record.
"""

import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class UnknownAuditAction(LookupError):
    """An event named an action that no app registered."""

    def __init__(self, action: str) -> None:
        super().__init__(
            f"unknown audit action {action!r}: register it with "
            "audit.vocabulary.register() in the app's AppConfig.ready()"
        )
        self.action = action


@dataclass(frozen=True)
class AuditAction:
    name: str
    # Marked for translation: str() gives it in the active language.
    description: str | Promise


_registry: dict[str, AuditAction] = {}


def register(action: str, description: str | Promise) -> AuditAction:
    """Register a dotted action name; registering it again identically is a no-op."""
    if not ACTION_PATTERN.match(action):
        raise ValueError(
            f"audit action {action!r} must be dotted lowercase, "
            "e.g. 'templates.version.approved'"
        )
    registered = _registry.get(action)
    if registered is not None:
        if registered.description != description:
            raise ValueError(f"audit action {action!r} is already registered")
        return registered
    registered = _registry[action] = AuditAction(action, description)
    return registered


def action_get(action: str) -> AuditAction:
    """Return the registered action, or raise UnknownAuditAction naming it."""
    try:
        return _registry[action]
    except KeyError:
        raise UnknownAuditAction(action) from None


def action_label(action: str) -> str:
    """Return what an action means in the active language; an unknown one as stored."""
    registered = _registry.get(action)
    return str(registered.description) if registered else action


def actions() -> list[AuditAction]:
    """Return every registered action, sorted by name."""
    return sorted(_registry.values(), key=lambda registered: registered.name)


# Each action written out, so that its description is marked for translation.
register("templates.version.created", _("A template version was created as a draft."))
register(
    "templates.version.submitted", _("A template version was submitted for review.")
)
register(
    "templates.version.withdrawn",
    _("A template version was withdrawn from review by its author."),
)
register(
    "templates.version.approved", _("A template version was approved by a reviewer.")
)
register(
    "templates.version.rejected", _("A template version was rejected by a reviewer.")
)
register("templates.version.retired", _("A template version was retired from use."))
register(
    "templates.version.superseded",
    _("A template version was superseded by a newer approved version."),
)
register("templates.block.created", _("A content block was created as a draft."))
register("templates.block.submitted", _("A content block was submitted for review."))
register(
    "templates.block.withdrawn",
    _("A content block was withdrawn from review by its author."),
)
register("templates.block.approved", _("A content block was approved by a reviewer."))
register("templates.block.rejected", _("A content block was rejected by a reviewer."))
register("templates.block.retired", _("A content block was retired from use."))
register(
    "templates.block.superseded",
    _("A content block was superseded by a newer approved version."),
)

register("channels.dispatch.queued", _("A dispatch was queued for sending."))
register("channels.dispatch.sent", _("A dispatch was handed to the provider."))
register(
    "channels.dispatch.delivered",
    _("A dispatch was reported delivered by the provider."),
)
register(
    "channels.dispatch.bounced", _("A dispatch was reported bounced by the provider.")
)
register(
    "channels.dispatch.complaint",
    _(
        "A dispatch was reported as spam by its recipient (a mailbox "
        "provider's complaint)."
    ),
)
register("channels.dispatch.failed", _("A dispatch was failed permanently."))
register(
    "channels.dispatch.suppressed",
    _("A dispatch was suppressed by a preference or a rule."),
)
register("channels.dispatch.cancelled", _("A dispatch was cancelled before sending."))
register("channels.dispatch.resent", _("A dispatch was sent again on request."))

register("channels.preference.set", _("A customer's communication preference was set."))
register("auth.permission.granted", _("A permission was granted to a user or group."))
register("auth.permission.revoked", _("A permission was revoked from a user or group."))
register("audit.verified", _("The audit chain was verified from end to end."))
