"""The refusals of sending: dispatch moves, triggers, batches (docs/api-errors.md)."""

from django.utils.translation import gettext_lazy as _

from ccm.problems import label_of, problem_register
from channels_app.models import Batch, Dispatch, Incident, Pause
from templates_app.models import Channel

_status = label_of(Dispatch.Status)
_channel = label_of(Channel)

# Dispatch moves (channels_app.lifecycle, channels_app.services).
DISPATCH_MOVE_REFUSED = problem_register(
    "channels.dispatch.move_refused",
    _("Dispatch #%(dispatch)s is %(status)s; it cannot become %(to)s."),
    {"status": _status, "to": _status},
)
DISPATCH_OPENING_REFUSED = problem_register(
    "channels.dispatch.opening_refused",
    _("A dispatch cannot start as %(status)s."),
    {"status": _status},
)
DISPATCH_CHANGED_MEANWHILE = problem_register(
    "channels.dispatch.changed_meanwhile",
    _(
        "Dispatches changed status meanwhile (%(changed)s of %(total)s); "
        "nothing was moved."
    ),
)
DISPATCH_MOVED_TWICE = problem_register(
    "channels.dispatch.moved_twice",
    _("Dispatch #%(dispatch)s was moved twice in one call."),
)
REASON_REQUIRED = problem_register(
    "channels.reason.required", _("A reason is required.")
)
RECEIPT_EVENT_UNKNOWN = problem_register(
    "channels.receipt.event_unknown",
    _("Unknown receipt event %(event)s: use %(known)s."),
)
ESCALATION_RESOLVED = problem_register(
    "channels.escalation.already_resolved",
    _("Escalation #%(escalation)s is already resolved."),
)
BATCH_NOT_RESUMABLE = problem_register(
    "channels.batch.not_resumable",
    _("Batch %(batch)s is %(status)s; only a failed batch can be resumed."),
    {"status": label_of(Batch.Status)},
)

# Trigger refusals (channels_app.dispatching, channels_app.api).
TEMPLATE_UNKNOWN = problem_register(
    "trigger.template.unknown", _("unknown template %(code)r")
)
TEMPLATE_NOT_IN_FORCE = problem_register(
    "trigger.template.not_in_force", _("%(code)s has no approved version in force")
)
TEMPLATE_HASH_MISMATCH = problem_register(
    "trigger.template.hash_mismatch",
    _("%(version)s content no longer matches its approved hash; refusing to send"),
)
CHANNELS_UNSUPPORTED = problem_register(
    "trigger.channels.unsupported",
    _("%(code)s does not support %(unknown)s (it supports %(supported)s)"),
    {"unknown": _channel, "supported": _channel},
)
CHANNELS_NONE = problem_register(
    "trigger.channels.none", _("name at least one channel, or 'auto'")
)
CHANNELS_INVALID = problem_register(
    "trigger.channels.invalid", _('use "auto" or a list of: %(channels)s')
)
CONTACT_POINT_MISSING = problem_register(
    "trigger.customer.no_contact_point",
    _("no usable %(channel)s contact point"),
    {"channel": _channel},
)
CUSTOMER_UNKNOWN = problem_register(
    "trigger.customer.unknown",
    _("unknown customer %(id)r: give a name and contact data to create it"),
)
DATA_INVALID = problem_register(
    "trigger.data.invalid", _("The data does not match the template: %(detail)s")
)
RENDER_FAILED = problem_register(
    "trigger.data.render_failed", _("The message cannot be rendered: %(detail)s")
)
CUSTOMER_ERASED = problem_register(
    "trigger.customer.erased",
    _("The customer's personal data was erased on request before this trigger ran."),
)
TRIGGER_FAILED = problem_register(
    "trigger.failed",
    _("The trigger failed on an unexpected error; operations can see it in the log."),
)
BODY_NOT_OBJECT = problem_register(
    "api.body.not_object", _("The body must be a JSON object.")
)
IDEMPOTENCY_KEY_MISSING = problem_register(
    "api.idempotency_key.missing",
    _("The Idempotency-Key header is required (1 to 200 characters)."),
)
IDEMPOTENCY_KEY_IN_FLIGHT = problem_register(
    "api.idempotency_key.in_flight",
    _("A request with the key %(key)s is still in flight."),
)
IDEMPOTENCY_KEY_REUSED = problem_register(
    "api.idempotency_key.reused",
    _("The key %(key)s was already used with another body."),
)

# Batch rows (channels_app.batches).
BATCH_TOO_MANY_ROWS = problem_register(
    "batch.rows.too_many",
    _("The batch has %(count)s rows, more than %(limit)s; split it."),
)
ROW_CUSTOMER_FIELD = problem_register(
    "batch.row.customer_field", _("customer field %(field)s: %(problem)s")
)

# Pauses and incidents (channels_app.pauses, channels_app.incidents).
_scope = label_of(Pause.Scope)
PAUSE_SCOPE_UNKNOWN = problem_register(
    "channels.pause.scope_unknown", _("Unknown pause scope: %(scope)s")
)
PAUSE_NOTHING = problem_register(
    "channels.pause.nothing_to_pause",
    _("There is no %(scope)s %(value)s to pause."),
    {"scope": _scope},
)
PAUSE_REASON_REQUIRED = problem_register(
    "channels.pause.reason_required", _("Give the reason for the pause.")
)
PAUSE_ALREADY = problem_register(
    "channels.pause.already_paused",
    _("%(scope)s %(value)s is already paused."),
    {"scope": _scope},
)
PAUSE_RESUMED_ALREADY = problem_register(
    "channels.pause.already_resumed",
    _("%(scope)s %(value)s was already resumed."),
    {"scope": _scope},
)
INCIDENT_MOVE_REFUSED = problem_register(
    "channels.incident.move_refused",
    _("Incident #%(id)s is %(status)s; it cannot become %(to)s."),
    {"status": label_of(Incident.Status), "to": label_of(Incident.Status)},
)
INCIDENT_ROOT_CAUSE_REQUIRED = problem_register(
    "channels.incident.root_cause_required",
    _("Give the root cause to resolve the incident."),
)

# Signed webhooks: receipts and inbound SMS (channels_app.webhooks).
WEBHOOK_TIMESTAMP_INVALID = problem_register(
    "channels.webhook.timestamp_invalid",
    _("X-CCM-Timestamp is missing or not a Unix time in whole seconds."),
)
WEBHOOK_TIMESTAMP_STALE = problem_register(
    "channels.webhook.timestamp_stale",
    _(
        "Signed %(age)s seconds ago, longer than the %(window)s-second window: "
        "sign each delivery with the current time."
    ),
)
WEBHOOK_TIMESTAMP_AHEAD = problem_register(
    "channels.webhook.timestamp_ahead",
    _(
        "Signed %(ahead)s seconds in the future, more than the %(skew)s seconds "
        "of clock skew allowed: check the sender's clock."
    ),
)
WEBHOOK_SIGNATURE_WRONG = problem_register(
    "channels.webhook.signature_wrong",
    _(
        "The signature is missing or wrong: X-CCM-Signature is sha256= and the "
        "HMAC-SHA256 of '<timestamp>.<raw body>' with the shared secret."
    ),
)
WEBHOOK_REPLAYED = problem_register(
    "channels.webhook.replayed",
    _("%(id)s was already accepted; replays are refused."),
)
