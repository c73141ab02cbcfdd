"""Preview of draft content with the sample data, per channel and language.

The web process loads the version into a plain-data job and a render worker
(`templates_app.render_worker`) renders it under hard limits, so a hostile
draft never stalls or bloats the web process.
"""

from django.utils.translation import gettext as _

from templates_app import letters, render_worker, services
from templates_app.models import Channel, Language, TemplateVersion
from templates_app.preview_jobs import (  # noqa: F401 (PREVIEW_POLICY is public)
    PREVIEW_CSP,
    PREVIEW_POLICY,
    PreviewJob,
    with_csp,
)
from templates_app.validation import ContentDraft
from templates_app.version_settings import version_preview_formats

# One preview request renders at most this many drafts.
MAX_DRAFTS = 50
# What a page showing previews in srcdoc frames adds to the site's policy: the
# frames take their host page's policy too, and a draft brings inline styles.
PREVIEW_HOST_CSP = {
    "style-src": ["'unsafe-inline'"],
    # The letter's PDF is offered as a blob: URL made in the page.
    "connect-src": ["'self'", "blob:"],
    "img-src": ["data:"],
    "font-src": ["'self'", "data:"],
}


def drafts_from_post(post, prefix: str = "contents") -> list[ContentDraft]:
    """Return the content drafts in a submitted admin version form."""
    try:
        total = int(post.get(f"{prefix}-TOTAL_FORMS", "0"))
    except ValueError:
        total = 0
    drafts = []
    for index in range(min(total, MAX_DRAFTS)):
        key = f"{prefix}-{index}-"
        channel = post.get(key + "channel", "")
        language = post.get(key + "language", "")
        if post.get(key + "DELETE") or not channel or not language:
            continue
        if channel not in Channel.values or language not in Language.values:
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


def preview_job(
    *, version: TemplateVersion, drafts: list[ContentDraft], validate: bool = True
) -> PreviewJob:
    """Load everything a preview of the drafts renders, as plain data."""
    template = version.template
    blocks = services.blocks_by_language(version)
    job = PreviewJob(
        drafts=drafts,
        sample_data=template.sample_data,
        blocks=blocks,
        formats={
            language: version_preview_formats(version, language=language)
            for language in {draft.language for draft in drafts}
        },
        title=template.name,
        letter_limits=letters.letter_limits(template.category.code),
        remote_images=version.category.allow_remote_images,
    )
    if validate:
        source = template if version.is_editable else version
        job.validation = {
            "channels": source.channels,
            "default_language": source.default_language,
            "schema": source.data_schema,
            "sample_data": template.sample_data,
            "blocks_by_language": blocks,
        }
    return job


def version_preview(*, version: TemplateVersion, drafts: list[ContentDraft]) -> dict:
    """Render every draft pane and validate the whole; never raise on bad content."""
    job = preview_job(version=version, drafts=drafts)
    try:
        return _labelled(
            render_worker.run("templates_app.preview_jobs:preview_render", job)
        )
    except render_worker.RenderError as exc:
        return _labelled(
            {
                "panes": [
                    {
                        "channel": draft.channel,
                        "language": draft.language,
                        "ok": False,
                        "error": str(exc),
                    }
                    for draft in drafts
                ],
                "errors": [str(exc)],
                "warnings": [],
                "title": _("Preview with the sample data"),
            }
        )


def _labelled(result: dict) -> dict:
    """Name each pane's channel and language in the reader's language."""
    for pane in result.get("panes", []):
        channel, language = pane.get("channel", ""), pane.get("language", "")
        pane["label"] = " · ".join(
            [
                str(Channel(channel).label) if channel in Channel.values else channel,
                str(Language(language).label)
                if language in Language.values
                else language,
            ]
        )
    return result
