"""The registered audit actions: dotted names, each with a description.

Apps register their own actions in `AppConfig.ready()`; recording an event with
an unregistered action is refused, so a typo cannot slip into the permanent
record.
"""

import re
from dataclasses import dataclass

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
    description: str


_registry: dict[str, AuditAction] = {}


def register(action: str, description: str) -> AuditAction:
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


def actions() -> list[AuditAction]:
    """Return every registered action, sorted by name."""
    return sorted(_registry.values(), key=lambda registered: registered.name)


_LIFECYCLE = {
    "created": "created as a draft",
    "submitted": "submitted for review",
    "withdrawn": "withdrawn from review by its author",
    "approved": "approved by a reviewer",
    "rejected": "rejected by a reviewer",
    "retired": "retired from use",
    "superseded": "superseded by a newer approved version",
}
for _verb, _meaning in _LIFECYCLE.items():
    register(f"templates.version.{_verb}", f"A template version was {_meaning}.")
    register(f"templates.block.{_verb}", f"A content block was {_meaning}.")

for _verb, _meaning in {
    "queued": "queued for sending",
    "sent": "handed to the provider",
    "delivered": "reported delivered by the provider",
    "bounced": "reported bounced by the provider",
    "complaint": "reported as spam by its recipient (a mailbox provider's complaint)",
    "failed": "failed permanently",
    "suppressed": "suppressed by a preference or a rule",
    "cancelled": "cancelled before sending",
    "resent": "sent again on request",
}.items():
    register(f"channels.dispatch.{_verb}", f"A dispatch was {_meaning}.")

register("channels.preference.set", "A customer's communication preference was set.")
register("auth.permission.granted", "A permission was granted to a user or group.")
register("auth.permission.revoked", "A permission was revoked from a user or group.")
register("audit.verified", "The audit chain was verified from end to end.")
