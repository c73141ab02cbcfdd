"""Page fragments rendered once per language, then stamped with each page's values.

The frame of every console and operations page (the header, its search box,
the signed-in user's bar) is the same for every request in a language but
for a handful of printed values: a name, a time zone, the path, the CSRF
token. Rendering its two dozen nodes cost a search page a third of its
template time. `stamp` renders such a fragment's template once per process
and language, with stand-ins where the values go, and then writes each
page's values into it, escaped as the template would escape them. The HTML
stays in its template; only its rendering is not repeated.

A stamped template only prints its values: `{{ name }}`, or a tag that
prints one (`{% csrf_token %}` prints `csrf_token`). A value changed by a
filter or on the way into the HTML is refused when the fragment is made; a
value tested by `{% if %}` would always be true, so a fragment must not test
one. What the fragment prints otherwise must depend only on the language
and the script prefix the site is served under (URLs, static files and
translations do); both are part of a fragment's key.
"""

import re
import secrets
from threading import Lock

from django.template import TemplateSyntaxError
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language


class Fragment:
    """A template's output split around its values: text, value, text, …"""

    def __init__(self, template_name: str, names: tuple[str, ...]) -> None:
        template = get_template(template_name)
        self.texts, self.slots = _split(template, names)
        missing = [name for name in names if name not in self.slots]
        # Rendered again with other stand-ins, the text around them must not
        # change: a value cut, folded or measured on its way in changes it.
        if missing or _split(template, names) != (self.texts, self.slots):
            raise TemplateSyntaxError(
                f"{template_name} does not print {', '.join(missing) or 'a value'} "
                "as given: a stamped fragment prints its values unchanged"
            )

    def stamped(self, values: dict) -> SafeString:
        out = [self.texts[0]]
        for name, text in zip(self.slots, self.texts[1:], strict=True):
            out.append(conditional_escape(values[name]))
            out.append(text)
        return mark_safe("".join(out))  # noqa: S308 (the template's own text; values escaped)


def _split(template, names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Render `template` with fresh stand-ins; return its texts and slots."""
    # Letters and digits only: autoescaping leaves them as they are.
    token = secrets.token_hex(8)
    stand_ins = {name: f"stamp{token}n{i}x" for i, name in enumerate(names)}
    pieces = re.split(f"stamp{token}n(\\d+)x", template.render(stand_ins))
    return pieces[0::2], [names[int(i)] for i in pieces[1::2]]


_made: dict[tuple, Fragment] = {}
_lock = Lock()


def stamp(template_name: str, values: dict) -> SafeString:
    """Return `template_name` rendered with `values`, from its fragment."""
    key = (template_name, get_language(), get_script_prefix(), *values)
    made = _made.get(key)
    if made is None:
        made = Fragment(template_name, tuple(values))
        with _lock:
            made = _made.setdefault(key, made)
    return made.stamped(values)
