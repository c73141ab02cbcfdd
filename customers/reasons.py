"""The reasons consent and the central rules give, written in English, shown translated.

A reason is the record: it is stored on the dispatch (`decision`, each rule
decision's "reason") and in audit events exactly as written, in English.
`consent_decide` and `rules.evaluation` write every reason through a shape
below, and `reason_display` recognises a stored reason by the same shape and
returns it in the active language, so the English a shape writes and the
pattern that reads it back cannot drift apart. A text no shape matches (an
older version's, free text) is shown as stored.
"""

import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

from django.utils.functional import Promise
from django.utils.translation import get_language, npgettext, pgettext_lazy


@dataclass(frozen=True, eq=False)
class Shape:
    """One reason: its English format and its translatable message.

    `english` is a `str.format` string with named fields (format specs allowed,
    e.g. `{until:%Y-%m-%d %H:%M}`); `message` says the same with the same names
    as `%(name)s` placeholders.
    """

    english: str
    message: Promise

    def text(self, **params) -> str:
        """Return the reason in English, as it is stored."""
        return self.english.format(**params)


@dataclass(frozen=True, eq=False)
class Param:
    """How a field of a shape is recognised and shown; by default as stored."""

    pattern: str = r".+?"
    display: Callable[[str], str] = str


# Consent (channels_app.services.consent_decide).
NO_CONTACT_POINT = Shape(
    "no {channel} contact point",
    pgettext_lazy("dispatch reason", "no %(channel)s contact point"),
)
ADDRESS_SUPPRESSED = Shape(
    "{address} is suppressed on {channel}",
    pgettext_lazy("dispatch reason", "%(address)s is suppressed on %(channel)s"),
)
OPTED_OUT = Shape(
    "customer opted out of {channel} {where}",
    pgettext_lazy("dispatch reason", "customer opted out of %(channel)s %(where)s"),
)
MANDATORY_OVERRIDES = Shape(
    "mandatory category overrides opt-out ({where})",
    pgettext_lazy(
        "dispatch reason", "mandatory category overrides opt-out (%(where)s)"
    ),
)
NO_OPT_IN = Shape(
    "no opt-in recorded for {category}",
    pgettext_lazy("dispatch reason", "no opt-in recorded for %(category)s"),
)
OPTED_IN = Shape("opted in", pgettext_lazy("dispatch reason", "opted in"))
NO_OBJECTION = Shape(
    "no objection recorded", pgettext_lazy("dispatch reason", "no objection recorded")
)
# Where an opt-out applies: the `where` of the two above.
CUSTOMER_WIDE = Shape(
    "customer-wide", pgettext_lazy("dispatch reason", "customer-wide")
)
FOR_SCOPE = Shape("for {scope}", pgettext_lazy("dispatch reason", "for %(scope)s"))

# The central rules (rules.evaluation; channels_app.ruling writes SUPERSEDED* too).
ONLY_FOR_CHANNEL = Shape(
    "only for {channel}", pgettext_lazy("dispatch reason", "only for %(channel)s")
)
ONLY_FOR_KIND = Shape(
    "only for {kind} categories",
    pgettext_lazy("dispatch reason", "only for %(kind)s categories"),
)
ONLY_FOR_CATEGORIES = Shape(
    "only for {categories}", pgettext_lazy("dispatch reason", "only for %(categories)s")
)
MANDATORY_EXEMPT = Shape(
    "{category} is a mandatory category, exempt from {rule}",
    pgettext_lazy(
        "dispatch reason", "%(category)s is a mandatory category, exempt from %(rule)s"
    ),
)
CATEGORY_EXEMPT = Shape(
    "{category} is exempt from {rule}",
    pgettext_lazy("dispatch reason", "%(category)s is exempt from %(rule)s"),
)
SUPERSEDED = Shape(
    "superseded by {template} (communication {communication})",
    pgettext_lazy(
        "dispatch reason",
        "superseded by %(template)s (communication %(communication)s)",
    ),
)
SUPERSEDED_FOR = Shape(
    "superseded by {template} (communication {communication}) for {key}",
    pgettext_lazy(
        "dispatch reason",
        "superseded by %(template)s (communication %(communication)s) for %(key)s",
    ),
)
NOTHING_PENDING = Shape(
    "nothing pending of {templates}",
    pgettext_lazy("dispatch reason", "nothing pending of %(templates)s"),
)
HELD_WHEN_DUE = Shape(
    "waits for {template}, still pending; held when due",
    pgettext_lazy(
        "dispatch reason", "waits for %(template)s, still pending; held when due"
    ),
)
WAITS_FOR = Shape(
    "waits for {template} to be sent first",
    pgettext_lazy("dispatch reason", "waits for %(template)s to be sent first"),
)
NO_CORRELATION_KEY = Shape(
    "no correlation key", pgettext_lazy("dispatch reason", "no correlation key")
)
DUPLICATE = Shape(
    "{template} for {key} was already sent on {channel} within {period}",
    pgettext_lazy(
        "dispatch reason",
        "%(template)s for %(key)s was already sent on %(channel)s within %(period)s",
    ),
)
CORRECTION = Shape(
    "a correction reissued by the contact center",
    pgettext_lazy("dispatch reason", "a correction reissued by the contact center"),
)
NO_DUPLICATE = Shape(
    "no duplicate within the window",
    pgettext_lazy("dispatch reason", "no duplicate within the window"),
)
# A quiet-hours window, e.g. "21:00–08:00 Asia/Riyadh": shown as written.
QUIET_WINDOW = "{start:%H:%M}–{end:%H:%M} {zone}"
OUTSIDE_QUIET_HOURS = Shape(
    "outside {window}", pgettext_lazy("dispatch reason", "outside %(window)s")
)
QUIET_DEFERRED = Shape(
    "{local:%H:%M} {zone} is within quiet hours {window}; "
    "deferred to {until:%Y-%m-%d %H:%M %Z}",
    pgettext_lazy(
        "dispatch reason",
        "%(local)s %(zone)s is within quiet hours %(window)s; deferred to %(until)s",
    ),
)
CAP_TALLY = Shape(
    "{count} of {limit} in {period}",
    pgettext_lazy("dispatch reason", "%(count)s of %(limit)s in %(period)s"),
)
NEVER_CAPPED = Shape(
    "mandatory notices are never capped ({tally})",
    pgettext_lazy("dispatch reason", "mandatory notices are never capped (%(tally)s)"),
)
CAP_REACHED = Shape(
    "frequency cap reached: {tally}",
    pgettext_lazy("dispatch reason", "frequency cap reached: %(tally)s"),
)
CAP_DEFERRED = Shape(
    "frequency cap reached: {tally}; deferred to {until:%Y-%m-%d %H:%M} UTC",
    pgettext_lazy(
        "dispatch reason", "frequency cap reached: %(tally)s; deferred to %(until)s UTC"
    ),
)

# The contact center (console.services.dispatch_resend): the agent's own
# reason follows as they typed it.
RESENT = Shape(
    "resend of #{original} by {agent}: {reason}",
    pgettext_lazy(
        "dispatch reason", "resend of #%(original)s by %(agent)s: %(reason)s"
    ),
)

# Every reason a dispatch can carry, in the order they are tried: a narrower
# shape before a wider one that would also match its text.
CATALOGUE: tuple[Shape, ...] = (
    NO_CONTACT_POINT,
    ADDRESS_SUPPRESSED,
    OPTED_OUT,
    MANDATORY_OVERRIDES,
    NO_OPT_IN,
    OPTED_IN,
    NO_OBJECTION,
    ONLY_FOR_CHANNEL,
    ONLY_FOR_KIND,
    ONLY_FOR_CATEGORIES,
    MANDATORY_EXEMPT,
    CATEGORY_EXEMPT,
    SUPERSEDED,
    SUPERSEDED_FOR,
    NOTHING_PENDING,
    HELD_WHEN_DUE,
    WAITS_FOR,
    NO_CORRELATION_KEY,
    DUPLICATE,
    CORRECTION,
    NO_DUPLICATE,
    OUTSIDE_QUIET_HOURS,
    QUIET_DEFERRED,
    CAP_TALLY,
    NEVER_CAPPED,
    CAP_REACHED,
    CAP_DEFERRED,
    RESENT,
)


def period(hours: int) -> str:
    """Return a rule's window in English as reasons write it: "1 day", "3 hours"."""
    if hours % 24 == 0:
        days = hours // 24
        return "1 day" if days == 1 else f"{days} days"
    return "1 hour" if hours == 1 else f"{hours} hours"


CHANNELS = {
    "email": pgettext_lazy("dispatch reason", "email"),
    "sms": pgettext_lazy("dispatch reason", "sms"),
    "letter": pgettext_lazy("dispatch reason", "letter"),
    "any": pgettext_lazy("dispatch reason", "any"),
}
# Older versions wrote the channel's label ("no SMS contact point").
CHANNEL_LABELS = {"Email": "email", "SMS": "sms", "Letter": "letter"}
CATEGORY_KINDS = {
    "service": pgettext_lazy("dispatch reason", "service"),
    "marketing": pgettext_lazy("dispatch reason", "marketing"),
    "mandatory": pgettext_lazy("dispatch reason", "mandatory"),
}


# Category names in a reason are read again after this many seconds: a
# display name changes without approval, and shown reasons are cached.
NAMES_SECONDS = 60


def _names_epoch() -> int:
    return int(time.monotonic() // NAMES_SECONDS)


@lru_cache(maxsize=8)
def _category_names(language: str, epoch: int) -> dict[str, str]:
    # `language` and `epoch` key the cache; the names are read in `language`.
    from templates_app.selectors import category_names

    return category_names()


def names_forget(**_kwargs) -> None:
    """Forget the category names read so far (a category was saved here)."""
    _category_names.cache_clear()
    _display.cache_clear()


def _category_display(value: str) -> str:
    """Return a category code as its name in the active language."""
    names = _category_names(get_language() or "", _names_epoch())
    return names.get(value, value)


def _categories_display(value: str) -> str:
    return ", ".join(_category_display(code) for code in value.split(", "))


def _channel_display(value: str) -> str:
    return str(CHANNELS[CHANNEL_LABELS.get(value, value)])


def _period_display(value: str) -> str:
    count, unit = value.split(" ")
    number = int(count)
    if unit.startswith("day"):
        text = npgettext("dispatch reason", "%(count)s day", "%(count)s days", number)
    else:
        text = npgettext("dispatch reason", "%(count)s hour", "%(count)s hours", number)
    return text % {"count": number}


def _among(*shapes: Shape) -> Param:
    """Return a field holding a reason of its own, e.g. a cap's tally."""
    pattern = "|".join(_pattern(shape, nested=True) for shape in shapes)
    return Param(f"(?:{pattern})", lambda value: _translate(value, shapes) or value)


def _choice(values) -> str:
    return "|".join(re.escape(value) for value in values)


NUMBER = Param(r"\d+")
PARAMS: dict[str, Param] = {
    "channel": Param(_choice([*CHANNELS, *CHANNEL_LABELS]), _channel_display),
    "kind": Param(_choice(CATEGORY_KINDS), lambda value: str(CATEGORY_KINDS[value])),
    "period": Param(r"\d+ (?:days?|hours?)", _period_display),
    "count": NUMBER,
    "limit": NUMBER,
    "communication": NUMBER,
    "local": Param(r"\d\d:\d\d"),
    "original": NUMBER,
    # Django usernames hold no colon; the agent's reason is anything after.
    "agent": Param(r"[^:]+"),
    "category": Param(display=_category_display),
    "categories": Param(display=_categories_display),
    "reason": Param(r".+"),
}


def _pattern(shape: Shape, *, nested: bool = False) -> str:
    """Return the regular expression of a shape's English, one group a field.

    A nested pattern (a field inside another shape's) captures nothing; a field
    named twice must read the same both times.
    """
    parts, seen = [], set()
    for literal, name, _spec, _conversion in string.Formatter().parse(shape.english):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name in seen and not nested:
            parts.append(f"(?P={name})")
            continue
        seen.add(name)
        inner = PARAMS.get(name, Param()).pattern
        parts.append(f"(?:{inner})" if nested else f"(?P<{name}>{inner})")
    return "".join(parts)


@cache
def _regex(shape: Shape) -> re.Pattern:
    return re.compile(_pattern(shape), re.DOTALL)


def _match(text: str, shapes: tuple[Shape, ...]) -> tuple[Shape, dict] | None:
    for shape in shapes:
        if match := _regex(shape).fullmatch(text):
            return shape, match.groupdict()
    return None


def reason_shape(text: str) -> tuple[Shape, dict[str, str]] | None:
    """Return the catalogue shape of a stored reason and its fields, or None."""
    return _match(text, CATALOGUE)


def _translate(text: str, shapes: tuple[Shape, ...] = CATALOGUE) -> str | None:
    """Return `text` in the active language, or None when no shape matches."""
    if found := _match(text, shapes):
        shape, fields = found
        return str(shape.message) % {
            name: PARAMS.get(name, Param()).display(value)
            for name, value in fields.items()
        }
    return None


# Fields holding a reason of their own, added once the fields those reasons
# use are known.
PARAMS["where"] = _among(CUSTOMER_WIDE, FOR_SCOPE)
PARAMS["tally"] = _among(CAP_TALLY)


def reason_display(text: str) -> str:
    """Return a stored reason in the active language; an unknown text as stored."""
    language = get_language()
    # The record is English: shown to English readers exactly as stored.
    if not text or not language or language.split("-")[0] == "en":
        return text
    return _display(text, language, _names_epoch())


@lru_cache(maxsize=4096)
def _display(text: str, language: str, epoch: int) -> str:
    # `language` keys the cache: the same text reads differently per language;
    # `epoch` lets a renamed category show within NAMES_SECONDS.
    return _translate(text) or text
