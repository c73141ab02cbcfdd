"""Preview of draft content with the sample data, per channel and language."""

import base64

from django.utils.translation import gettext as _

from templates_app import emails, letters, rendering, services
from templates_app.models import Channel, TemplateVersion
from templates_app.validation import ContentDraft
from templates_app.version_settings import version_preview_formats

# Preview documents run in a sandboxed iframe; this policy also stops them
# from loading anything over the network.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
)
# What a page showing previews in srcdoc frames adds to the site's policy: the
# frames take their host page's policy too, and a draft brings inline styles.
PREVIEW_HOST_CSP = {
    "style-src": ["'unsafe-inline'"],
    # The letter's PDF is offered as a blob: URL made in the page.
    "connect-src": ["'self'", "blob:"],
    "img-src": ["data:"],
    "font-src": ["'self'", "data:"],
}
PREVIEW_CSP = f'<meta http-equiv="Content-Security-Policy" content="{PREVIEW_POLICY}">'


def with_csp(document: str) -> str:
    """Return an HTML document that may load nothing over the network."""
    return document.replace("<head>", "<head>" + PREVIEW_CSP, 1)


def drafts_from_post(post, prefix: str = "contents") -> list[ContentDraft]:
    """Return the content drafts in a submitted admin version form."""
    try:
        total = int(post.get(f"{prefix}-TOTAL_FORMS", "0"))
    except ValueError:
        total = 0
    drafts = []
    for index in range(min(total, 50)):
        key = f"{prefix}-{index}-"
        channel = post.get(key + "channel", "")
        language = post.get(key + "language", "")
        if post.get(key + "DELETE") or not channel or not language:
            continue
        if channel not in Channel.values:
            continue
        fields = {
            name: post.get(key + name, "")
            for name in (
                "subject",
                "html",
                "text",
                "sms_text",
                "letter_html",
                "letter_css",
            )
        }
        drafts.append(ContentDraft(channel=channel, language=language, fields=fields))
    return drafts


def _pane(draft: ContentDraft, version: TemplateVersion, blocks: dict) -> dict:
    pane = {"channel": draft.channel, "language": draft.language, "ok": True}
    try:
        rendered = rendering.render_content(
            channel=draft.channel,
            language=draft.language,
            sources=draft.sources(),
            data=version.template.sample_data,
            blocks=blocks.get(draft.language, {}),
            formats=version_preview_formats(version, language=draft.language),
            remote_images=version.category.allow_remote_images,
        )
    except rendering.RenderError as exc:
        return {**pane, "ok": False, "error": str(exc)}
    pane["blocks"] = rendered.block_versions
    parts = rendered.parts
    if draft.channel == Channel.EMAIL:
        pane.update(
            subject=parts["subject"],
            html=with_csp(
                emails.email_document(
                    parts["html"], language=draft.language, subject=parts["subject"]
                )
            ),
            text=parts["text"],
        )
    elif draft.channel == Channel.SMS:
        pane.update(text=parts["sms_text"], sms=rendered.sms)
    else:
        letter = letters.letter_pdf(
            parts["letter_html"],
            language=draft.language,
            css=parts.get("letter_css", ""),
            title=version.template.name,
        )
        body = emails.sanitise_html(parts["letter_html"])
        pane.update(
            html=with_csp(
                letters.letter_document(body, language=draft.language).replace(
                    "</head>",
                    "<style>body{font-family:'Noto Serif','Amiri',serif;"
                    "max-width:40em;margin:1em auto}</style></head>",
                    1,
                )
            ),
            pdf=base64.b64encode(letter.pdf).decode(),
            pages=letter.pages,
            refused=letter.refused_urls,
        )
    return pane


def version_preview(*, version: TemplateVersion, drafts: list[ContentDraft]) -> dict:
    """Render every draft pane and validate the whole; never raise on bad content."""
    blocks = services.blocks_by_language(version)
    order = {channel: i for i, channel in enumerate(Channel.values)}
    panes = [
        _pane(draft, version, blocks)
        for draft in sorted(drafts, key=lambda d: (order[d.channel], d.language))
    ]
    report = services.version_validate(version=version, contents=drafts)
    return {
        "panes": panes,
        "errors": [str(problem) for problem in report.errors],
        "warnings": [str(problem) for problem in report.warnings],
        "title": _("Preview with the sample data"),
    }
