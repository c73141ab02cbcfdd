"""The checks of a trigger that need no rendering: the template in force and
its channels.

A batch checks them once for all its rows before storing them; a queued API
trigger (`channels_app.intake`) before answering 202. The trigger path checks
again what it renders with.
"""

from dataclasses import dataclass, field
from typing import Any

from ccm.problems import Problem
from channels_app import problems
from channels_app.trigger_requests import AUTO, FALLBACK_ORDER


@dataclass
class Checked:
    template: Any
    channels: list[str] | str
    problems: dict[str, list["str | Problem"]] = field(default_factory=dict)


def template_check(template_code: str, channels) -> Checked:
    """Return the template in force (its approved channels and schema) and
    the problems of asking it for `channels`."""
    template, found = template_in_force(template_code)
    if template is None:
        return Checked(template=None, channels=channels, problems=found)
    return channels_check(template, channels)


def template_in_force(template_code: str) -> tuple[Any, dict[str, list[Problem]]]:
    """Return the template with the channels and schema of its version in
    force, or None and why."""
    from templates_app.models import Template
    from templates_app.selectors import version_in_force

    template = (
        Template.objects.select_related("category").filter(code=template_code).first()
    )
    if template is None:
        return None, {"template": [problems.TEMPLATE_UNKNOWN(code=template_code)]}
    in_force = version_in_force(template)
    if in_force is None:
        return None, {"template": [problems.TEMPLATE_NOT_IN_FORCE(code=template_code)]}
    # Checked against what was approved, as the trigger will check each row.
    template.channels = in_force.channels
    template.data_schema = in_force.data_schema
    return template, {}


def channels_check(template, channels) -> Checked:
    """Return the problems of asking a template in force for `channels`."""
    checked = Checked(template=template, channels=channels)
    supported = [c for c in FALLBACK_ORDER if c in template.channels]
    if channels == AUTO or channels == [AUTO]:
        checked.channels = AUTO
    elif not isinstance(channels, list | tuple) or not channels:
        checked.problems["channels"] = [problems.CHANNELS_INVALID(channels=supported)]
    else:
        wanted = list(dict.fromkeys(channels))
        unknown = [str(c) for c in wanted if c not in supported]
        if unknown:
            checked.problems["channels"] = [
                problems.CHANNELS_UNSUPPORTED(
                    code=template.code, unknown=unknown, supported=supported
                )
            ]
        checked.channels = wanted
    return checked
