"""Labels for what the rules screens print: outcomes, kinds, channels, reasons."""

from django import template

from customers.reasons import reason_display
from rules.labels import outcome_label, step_kind_label
from templates_app.models import Channel

register = template.Library()

register.filter("outcome_label", outcome_label)
register.filter("step_kind_label", step_kind_label)
register.filter("reason_display", reason_display)


@register.filter
def channel_label(channel: str) -> str:
    """Return a channel's name in the reader's language; an unknown one as stored."""
    return str(Channel(channel).label) if channel in Channel.values else channel
