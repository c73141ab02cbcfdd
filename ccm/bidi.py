"""Mixed-direction plain text: isolate what may run the other way, point arrows right.

Where Arabic and Latin meet on one line (a code beside an Arabic name, an
arrow between two of them), the Unicode bidirectional algorithm may reorder
the parts; first-strong isolates (FSI ... PDI) keep each part in one piece,
and an arrow points the way the reader reads.

Names may not hold direction controls at all (`bidi_controls_refuse`, the
field rule of every name); a name stored before is shown with each control
made visible (`bidi_visible`).
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext_lazy as _

FSI, PDI = "\u2068", "\u2069"


def isolate(text: object) -> str:
    """Return a text wrapped in a first-strong isolate (its direction its own)."""
    return f"{FSI}{text}{PDI}"


def arrow() -> str:
    """Return an arrow pointing forward in the active language's direction."""
    return "←" if get_language_bidi() else "→"


def sequence(*parts: object) -> str:
    """Return parts joined by forward arrows, each part isolated."""
    return f" {arrow()} ".join(isolate(part) for part in parts)


# Explicit embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069)
# and the implicit marks (U+200E, U+200F, U+061C). Typed into a name they can
# only make it read as something else: U+202E shows what follows backwards.
BIDI_CONTROLS = (
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_CONTROL = re.compile(f"[{BIDI_CONTROLS}]")


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def bidi_controls_refuse(value: object) -> None:
    """Refuse a name holding a direction control character (a validator)."""
    found = sorted({_code_point(char) for char in _CONTROL.findall(str(value))})
    if found:
        raise ValidationError(
            _(
                "Remove the invisible direction control characters "
                "(%(characters)s): they can make a name read as another."
            ),
            code="bidi_control",
            params={"characters": ", ".join(found)},
        )


def bidi_visible(text: object) -> str:
    """Return `text` with each direction control shown as [U+202E] and so on.

    For names stored before they were refused: the name reads as typed,
    and whoever reads it sees that it holds a control.
    """
    return _CONTROL.sub(lambda match: f"[{_code_point(match.group())}]", str(text))
