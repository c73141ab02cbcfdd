"""The signed-in user's bar on the console and operations pages, written here.

Every page of both carries it; as a template it was two dozen nodes (two CSRF
tokens, two URLs, the language list) and a tenth of a search page's CPU.
Every value put in it goes through `html.escape` first.
"""

from html import escape

from django import template
from django.conf import settings
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

register = template.Library()

USER_BAR = (
    '\n  <div class="who">\n'
    '    <span id="{user_id}">{name}</span>\n'
    '    <span id="reader-zone" class="zone">{zone}</span>\n'
    '    <form id="language-switch" action="{language_set}" method="post">\n'
    "      {csrf}\n"
    '      <input type="hidden" name="next" value="{next}">\n'
    '      <label for="language-select" class="visually-hidden">{language}</label>\n'
    '      <select id="language-select" name="language">\n'
    "        {options}\n"
    "      </select>\n"
    '      <noscript><button type="submit">{switch}</button></noscript>\n'
    "    </form>\n"
    '    <script src="{script}" defer></script>\n'
    '    <form action="{logout}" method="post">{csrf}'
    '<button type="submit" class="link">{log_out}</button></form>\n'
    "  </div>\n"
)


@register.simple_tag(takes_context=True)
def user_bar(context, user_id: str = "console-user") -> SafeString:
    """Return the bar: who is signed in, their time zone, language, log out."""
    request = context["request"]
    user = request.user
    current = translation.get_language()
    token = escape(get_token(request))
    options = "".join(
        f'<option value="{escape(code)}"{" selected" if code == current else ""}>'
        f"{escape(translation.get_language_info(code)['name_local'])}</option>"
        for code, _name in settings.LANGUAGES
    )
    html = USER_BAR.format(
        user_id=escape(user_id),
        name=escape(user.get_full_name() or user.get_username()),
        zone=_('Times in <bdi dir="ltr">%(zone)s</bdi>')
        % {"zone": escape(str(timezone.get_current_timezone()))},
        language_set=escape(reverse("language_set")),
        csrf=f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">',
        next=escape(request.get_full_path()),
        language=escape(_("Language")),
        options=options,
        switch=escape(_("Switch")),
        script=escape(static("ccm/language-switch.js")),
        logout=escape(reverse("admin:logout")),
        log_out=escape(_("Log out")),
    )
    return mark_safe(html)  # noqa: S308 (every value escaped)
