"""The refusals of an agent's actions in the console (docs/api-errors.md)."""

from django.utils.translation import gettext_lazy as _

from ccm.problems import label_of, problem_register
from channels_app.models import Dispatch
from customers.reasons import reason_display
from templates_app.models import Channel

_status = label_of(Dispatch.Status)

FORM_SENT_TWICE = problem_register(
    "console.form.sent_twice",
    _("This was already done: the same form was sent twice."),
)
REASON_REQUIRED = problem_register(
    "console.reason.required", _("A reason is required.")
)
UNMASK_FORBIDDEN = problem_register(
    "console.contact.unmask_forbidden", _("You may not unmask contact data.")
)
RESEND_PENDING = problem_register(
    "console.resend.pending",
    _("Dispatch #%(id)s was already resent as #%(resend)s, still %(status)s."),
    {"status": _status},
)
RESEND_NOT_SENT = problem_register(
    "console.resend.not_sent",
    _("Dispatch #%(id)s is still %(status)s; it has not been sent yet."),
    {"status": _status},
)
RESEND_NEVER_RENDERED = problem_register(
    "console.resend.never_rendered",
    _("Dispatch #%(id)s was never rendered (%(decision)s); reissue it instead."),
    {"decision": reason_display},
)
RESEND_NO_CONTACT_POINT = problem_register(
    "console.resend.no_contact_point",
    _("The customer has no %(channel)s contact point."),
    {"channel": label_of(Channel)},
)
RESEND_CONSENT = problem_register(
    "console.resend.consent",
    _("The customer's consent does not allow this now: %(why)s."),
    {"why": reason_display},
)
REISSUE_DONE = problem_register(
    "console.reissue.already_reissued",
    _(
        "This correction was already reissued as communication "
        "%(id)s; resend that one if the customer needs it again."
    ),
)
FEEDBACK_TEXT_REQUIRED = problem_register(
    "console.feedback.text_required", _("Say what the customer told you.")
)
FEEDBACK_RECORDED = problem_register(
    "console.feedback.already_recorded",
    _("This was already recorded; escalation #%(id)s is open."),
)
