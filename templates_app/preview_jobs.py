"""The renders a preview or a test send runs, on plain data, in a render worker.

Nothing here reads the database or the network: the web process loads the
version, its blocks and settings into a job (`preview.preview_job`) and
`templates_app.render_worker` runs these functions in a limited child.
"""

import base64
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from templates_app import emails, letters, rendering
from templates_app.formats import Formats
from templates_app.models import Channel
from templates_app.validation import ContentDraft, validate_contents

# Preview documents run in a sandboxed iframe; this policy also stops them
# from loading anything over the network.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
)
PREVIEW_CSP = f'<meta http-equiv="Content-Security-Policy" content="{PREVIEW_POLICY}">'


def with_csp(document: str) -> str:
    """Return an HTML document that may load nothing over the network."""
    return document.replace("<head>", "<head>" + PREVIEW_CSP, 1)


@dataclass
class PreviewJob:
    """Everything one preview renders, as plain data."""

    drafts: list[ContentDraft]
    sample_data: dict
    blocks: dict  # language -> {code: BlockSource}
    formats: dict[str, Formats]  # language -> formats
    title: str
    letter_limits: letters.LetterLimits
    # The category lets email images load from other sites (tracking pixels).
    remote_images: bool = False
    validation: dict = field(default_factory=dict)  # validate_contents() kwargs


def _pane(draft: ContentDraft, job: PreviewJob) -> dict:
    pane = {"channel": draft.channel, "language": draft.language, "ok": True}
    try:
        rendered = rendering.render_content(
            channel=draft.channel,
            language=draft.language,
            sources=draft.sources(),
            data=job.sample_data,
            blocks=job.blocks.get(draft.language, {}),
            formats=job.formats[draft.language],
            remote_images=job.remote_images,
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
        try:
            letter = letters.letter_pdf(
                parts["letter_html"],
                language=draft.language,
                css=parts.get("letter_css", ""),
                title=job.title,
                limits=job.letter_limits,
            )
        except letters.LetterLimitError as exc:
            return {**pane, "ok": False, "error": str(exc)}
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


def preview_render(job: PreviewJob) -> dict:
    """Render every draft pane and validate the whole; never raise on bad content."""
    order = {channel: i for i, channel in enumerate(Channel.values)}
    panes = [
        _pane(draft, job)
        for draft in sorted(job.drafts, key=lambda d: (order[d.channel], d.language))
    ]
    try:
        report = validate_contents(contents=job.drafts, **job.validation)
    except rendering.RenderError as exc:
        errors, warnings = [str(exc)], []
    else:
        errors = [str(problem) for problem in report.errors]
        warnings = [str(problem) for problem in report.warnings]
    return {
        "panes": panes,
        "errors": errors,
        "warnings": warnings,
        "title": _("Preview with the sample data"),
    }


def emails_render(job: PreviewJob) -> list[tuple[str, dict]]:
    """Render the email drafts of a job: [(language, parts)]; raise RenderError."""
    return [
        (
            draft.language,
            rendering.render_content(
                channel=draft.channel,
                language=draft.language,
                sources=draft.sources(),
                data=job.sample_data,
                blocks=job.blocks.get(draft.language, {}),
                formats=job.formats[draft.language],
                remote_images=job.remote_images,
            ).parts,
        )
        for draft in job.drafts
        if draft.channel == Channel.EMAIL
    ]
