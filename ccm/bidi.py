"""Mixed-direction plain text: isolate what may run the other way, point arrows right.

Where Arabic and Latin meet on one line (a code beside an Arabic name, an
arrow between two of them), the Unicode bidirectional algorithm may reorder
the parts; first-strong isolates (FSI ... PDI) keep each part in one piece,
and an arrow points the way the reader reads.
"""

from django.utils.translation import get_language_bidi

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
