"""Email finishing: sanitised HTML, a derived plain-text part, the message."""

import re
from html.parser import HTMLParser

import nh3
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import escape

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "center",
    "code",
    "div",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
COMMON_ATTRIBUTES = {"style", "dir", "lang", "class", "align", "title"}
ALLOWED_ATTRIBUTES = {
    "*": COMMON_ATTRIBUTES,
    "a": {"href", "name", "target"},
    "img": {"src", "alt", "width", "height"},
    "table": {"width", "cellpadding", "cellspacing", "border", "role"},
    "td": {"width", "colspan", "rowspan", "valign"},
    "th": {"width", "colspan", "rowspan", "valign", "scope"},
    "font": {"color", "face", "size"},
}
ALLOWED_STYLE_PROPERTIES = {
    "background-color",
    "border",
    "border-bottom",
    "border-collapse",
    "border-top",
    "color",
    "direction",
    "display",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "line-height",
    "margin",
    "margin-bottom",
    "margin-top",
    "max-width",
    "padding",
    "text-align",
    "text-decoration",
    "vertical-align",
    "width",
}
# No javascript:, data: or vbscript: links survive.
URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def sanitise_html(html: str) -> str:
    """Return email HTML without scripts, event handlers or script URLs."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        filter_style_properties=ALLOWED_STYLE_PROPERTIES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "tr",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "hr",
    "blockquote",
    "pre",
}


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.links: list[str | None] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style", "head", "title"}:
            self.skip += 1
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")
        if tag == "li":
            self.pieces.append("- ")
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag):
        if tag in {"script", "style", "head", "title"}:
            self.skip = max(self.skip - 1, 0)
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith(("mailto:", "#")):
                self.pieces.append(f" ({href})")
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    """Return a readable plain-text rendering of email HTML."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.pieces)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def email_document(html: str, *, language: str, subject: str = "") -> str:
    """Wrap sanitised body HTML in a full document with the language direction."""
    direction = "rtl" if language == "ar" else "ltr"
    align = "right" if direction == "rtl" else "left"
    return (
        "<!DOCTYPE html>"
        f'<html lang="{language}" dir="{direction}"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>"
        f'<body dir="{direction}" style="text-align:{align};'
        'font-family:Tahoma,Arial,sans-serif">'
        f"{html}</body></html>"
    )


def email_message(
    *, subject: str, html: str, text: str, language: str, to: list[str]
) -> EmailMultiAlternatives:
    """Build a multipart email with a plain-text and an HTML part."""
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to
    )
    message.attach_alternative(
        email_document(html, language=language, subject=subject), "text/html"
    )
    message.extra_headers["Content-Language"] = language
    return message
