"""What a data-schema mismatch means, in the reader's language.

jsonschema words its errors in English ("'name' is a required property"); the
author, the reviewer and an API client reading Arabic get the same fact
worded from the failed keyword and its value. A keyword not listed here keeps
jsonschema's English.
"""

import json
import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

# jsonschema's type names, as a reader says them.
TYPE_NAMES = {
    "string": pgettext_lazy("json type", "text"),
    "number": pgettext_lazy("json type", "a number"),
    "integer": pgettext_lazy("json type", "a whole number"),
    "boolean": pgettext_lazy("json type", "true or false"),
    "object": pgettext_lazy("json type", "an object"),
    "array": pgettext_lazy("json type", "a list"),
    "null": pgettext_lazy("json type", "null"),
}

# jsonschema names the missing or unexpected properties only in its English.
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _shown(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _types(value) -> str:
    names = value if isinstance(value, list) else [value]
    return f" {pgettext('json type', 'or')} ".join(
        str(TYPE_NAMES.get(name, name)) for name in names
    )


def schema_message(error) -> str:
    """Return a jsonschema ValidationError's message in the active language.

    Like jsonschema's, it names the value that did not match (cut to 60
    characters), except for a missing or unexpected field.
    """
    keyword, limit = error.validator, error.validator_value
    if keyword == "required":
        names = _QUOTED.findall(error.message)
        return _("%(name)s is required") % {"name": names[0] if names else "?"}
    if keyword == "additionalProperties" and limit is False:
        names = _QUOTED.findall(error.message.partition("(")[2])
        if names and "unexpected" in error.message:
            return _("has fields the schema does not allow: %(names)s") % {
                "names": ", ".join(names)
            }
        return error.message
    value = _shown(error.instance)
    value = value if len(value) <= 60 else value[:59] + "…"
    if keyword == "type":
        message = _("%(value)s must be %(type)s") % {
            "value": value,
            "type": _types(limit),
        }
    elif keyword == "enum":
        message = _("%(value)s must be one of %(values)s") % {
            "value": value,
            "values": ", ".join(_shown(option) for option in limit),
        }
    elif keyword == "const":
        message = _("%(value)s must be %(expected)s") % {
            "value": value,
            "expected": _shown(limit),
        }
    elif keyword in _LIMITS:
        message = _LIMITS[keyword] % {"value": value, "limit": limit}
    elif keyword == "pattern" and error.message.endswith(f" does not match {limit!r}"):
        # (A pattern stopped for taking too long says so in its own words.)
        message = _("%(value)s does not match the pattern %(pattern)s") % {
            "value": value,
            "pattern": limit,
        }
    else:
        message = error.message
    return message


_LIMITS = {
    "minimum": gettext_lazy("%(value)s must be at least %(limit)s"),
    "maximum": gettext_lazy("%(value)s must be at most %(limit)s"),
    "exclusiveMinimum": gettext_lazy("%(value)s must be more than %(limit)s"),
    "exclusiveMaximum": gettext_lazy("%(value)s must be less than %(limit)s"),
    "minLength": gettext_lazy("%(value)s must be at least %(limit)s characters long"),
    "maxLength": gettext_lazy("%(value)s must be at most %(limit)s characters long"),
    "minItems": gettext_lazy("%(value)s must hold at least %(limit)s items"),
    "maxItems": gettext_lazy("%(value)s must hold at most %(limit)s items"),
    "format": gettext_lazy("%(value)s is not a valid %(limit)s"),
}
