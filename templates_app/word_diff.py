"""A reviewer's diff: the rendered text of each channel and language, word by word.

Both versions are rendered with the template's sample data (each with the
block versions it renders with), reduced to the text a customer reads, and
compared word by word; the changes are marked inline with <del> and <ins>,
bounded as `templates_app/diffs.py` says.
"""

from dataclasses import dataclass, field

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from templates_app import emails, rendering
from templates_app.diffs import word_difference
from templates_app.drafting import blocks_by_language
from templates_app.models import TemplateVersion
from templates_app.version_settings import version_preview_formats


@dataclass
class WordDiff:
    """The word diff of one part (subject, text, SMS, letter) of one channel."""

    channel: str
    language: str
    part: str
    html: SafeString
    changed: bool
    notes: list[str] = field(default_factory=list)


def _parts(channel: str, parts: dict) -> list[tuple[str, str]]:
    if channel == "email":
        return [(_("Subject"), parts["subject"]), (_("Text"), parts["text"])]
    if channel == "sms":
        return [(_("SMS text"), parts.get("sms_text", ""))]
    body = emails.sanitise_html(parts.get("letter_html", ""))
    return [(_("Letter"), emails.html_to_text(body))]


def rendered_texts(version: TemplateVersion) -> dict[tuple, list[tuple[str, str]]]:
    """Return the text a customer reads, per (channel, language), part by part."""
    blocks = blocks_by_language(version)
    texts = {}
    for content in version.contents.all():
        try:
            rendered = rendering.render_content(
                channel=content.channel,
                language=content.language,
                sources=content.sources(),
                data=version.template.sample_data,
                blocks=blocks.get(content.language, {}),
                formats=version_preview_formats(version, language=content.language),
            )
        except rendering.RenderError as exc:
            texts[(content.channel, content.language)] = [
                (_("Does not render"), str(exc))
            ]
            continue
        texts[(content.channel, content.language)] = _parts(
            content.channel, rendered.parts
        )
    return texts


def words_marked(before: str, after: str) -> SafeString:
    """Return `after` as HTML with the words removed and added since `before`."""
    return word_difference(before, after).html


def word_diffs(old: TemplateVersion, new: TemplateVersion) -> list[WordDiff]:
    """Return the word diff of every part of every channel and language."""
    before, after = rendered_texts(old), rendered_texts(new)
    diffs = []
    for key in sorted(set(before) | set(after)):
        channel, language = key
        old_parts = dict(before.get(key, []))
        for part, text in after.get(key, []) or [
            (label, "") for label, _text in before.get(key, [])
        ]:
            previous = old_parts.get(part, "")
            difference = word_difference(
                previous, text, fromdesc=f"v{old.number}", todesc=f"v{new.number}"
            )
            diffs.append(
                WordDiff(
                    channel,
                    language,
                    part,
                    difference.html,
                    previous != text,
                    difference.notes,
                )
            )
    return diffs
