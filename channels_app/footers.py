"""The preference footer every message carries: a signed link to the centre.

Added to the rendered copy at trigger time, before it is hashed and stored,
so the stored copy is the one sent: every email (HTML and text) and letter
names the customer's preference centre; a marketing email adds its one-click
unsubscribe link (which `backends` repeats in List-Unsubscribe) and a
marketing SMS a link and the STOP reply. Mandatory notices keep the centre
link (the way to every other choice) but offer no unsubscribe.
"""

import re
import uuid

from django.conf import settings
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from customers.links import centre_url, link_token, unsubscribe_url
from templates_app.models import Channel


def footer_apply(
    parts: dict[str, str],
    *,
    channel: str,
    language: str,
    customer_id: int,
    message: uuid.UUID,
    marketing: bool,
) -> dict[str, str]:
    """Return the rendered parts with the preference footer for the channel."""
    token = link_token(customer_id=customer_id, message=message, channel=channel)
    centre = centre_url(token)
    unsubscribe = unsubscribe_url(token) if marketing else ""
    parts = dict(parts)
    with translation.override(language):
        manage = _("Manage your communication preferences")
        if channel == Channel.EMAIL:
            links = [f'<a href="{escape(centre)}">{escape(manage)}</a>']
            lines = [f"{manage}: {centre}"]
            if marketing:
                stop = _("Unsubscribe from these messages")
                links.append(f'<a href="{escape(unsubscribe)}">{stop}</a>')
                lines.append(f"{stop}: {unsubscribe}")
            parts["html"] = (
                parts.get("html", "")
                + '<hr><p class="ccm-preferences" style="font-size:12px;color:#555">'
                + " · ".join(links)
                + "</p>"
            )
            parts["text"] = (
                parts.get("text", "").rstrip() + "\n\n--\n" + "\n".join(lines)
            )
        elif channel == Channel.LETTER:
            parts["letter_html"] = (
                parts.get("letter_html", "")
                + '<p class="ccm-preferences" style="font-size:8pt;margin-top:18px">'
                # The address reads left to right inside an Arabic letter.
                + f'{escape(manage)}: <span dir="ltr">{escape(centre)}</span></p>'
            )
        elif channel == Channel.SMS and marketing:
            parts["sms_text"] = (
                parts.get("sms_text", "").rstrip()
                + "\n"
                + (_("To stop: reply STOP or %(url)s") % {"url": centre})
            )
    return parts


def one_click_url(body_html: str) -> str:
    """Return the one-click unsubscribe address a stored email's footer names.

    Read back from the stored copy at send time, so the header and the link
    the customer sees are one; only an address of this installation counts.
    """
    pattern = re.escape(settings.PUBLIC_BASE_URL) + r"/p/[A-Za-z0-9_.:\-]+/unsubscribe"
    found = re.findall(f'href="({pattern})"', body_html)
    return found[-1] if found else ""
