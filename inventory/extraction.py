"""Turn a paragraph repeated across templates into a content block, for review.

One action drafts the block from the paragraph and, for every template that
has it, a new draft whose copy of the paragraph becomes `{{ block("code") }}`.
The block and the template drafts are submitted for review as usual, through
templates_app's own services; nothing is approved here.
"""

from dataclasses import dataclass, field

from django import forms
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.services import event_record
from inventory import text
from inventory.models import ParagraphCandidate
from templates_app import selectors as template_selectors
from templates_app import services
from templates_app.models import (
    HTML_FIELDS,
    ContentBlock,
    ContentBlockVersion,
    Template,
    TemplateVersion,
    code_validator,
)


class ExtractForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("block code"),
        max_length=100,
        validators=[code_validator],
        help_text=gettext_lazy("Templates include the block by this code."),
    )
    name = forms.CharField(label=gettext_lazy("block name"), max_length=200)

    def __init__(self, *args, candidate: ParagraphCandidate, **kwargs):
        super().__init__(*args, **kwargs)
        self.candidate = candidate

    def clean_code(self):
        code = self.cleaned_data["code"]
        if ContentBlock.objects.filter(code=code).exists():
            raise forms.ValidationError(
                _("A content block with the code %(code)s exists already.")
                % {"code": code}
            )
        return code


@dataclass
class Extraction:
    block: ContentBlock
    block_version: ContentBlockVersion
    versions: list[TemplateVersion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _named(source: str) -> str:
    return "\n".join(p.named for p in text.paragraphs(source))


def _replaced(source: str, *, key: str, named: str, call: str, is_html: bool) -> str:
    """Return `source` with each copy of the paragraph replaced by the block call."""
    for paragraph in text.raw_paragraphs(source, is_html=is_html):
        if text.paragraph_key(paragraph) == key and _named(paragraph) == named:
            source = source.replace(paragraph, call)
    return source


def _block_content(candidate: ParagraphCandidate) -> tuple[str, str]:
    source = candidate.source.strip()
    plain = text.plain(source)
    html = source if source.startswith("<") else f"<p>{escape(source)}</p>"
    return html, plain


def paragraph_extract(
    *,
    candidate: ParagraphCandidate,
    actor: AbstractBaseUser,
    code: str,
    name: str,
) -> Extraction:
    """Draft a block from the paragraph and template drafts that use it; submit all.

    All or nothing: a refusal (permissions, validation, a template with a
    draft already open) leaves nothing behind. A copy whose variables differ
    from the block's is left as it is, and said so.
    """
    call = '{{ block("' + code + '") }}'
    named = _named(candidate.source)
    template_ids = sorted({o["template"] for o in candidate.occurrences})
    with transaction.atomic():
        block = services.block_save(
            block=ContentBlock(
                code=code,
                name=name,
                description=_("Extracted from %(templates)s.")
                % {
                    "templates": ", ".join(
                        sorted({o["code"] for o in candidate.occurrences})
                    )
                },
            ),
            actor=actor,
        )
        block_version = services.block_draft_create(block=block, author=actor)
        html, plain = _block_content(candidate)
        services.block_content_save(
            block_version=block_version,
            contents=[(candidate.language, html, plain)],
            actor=actor,
        )
        block_version = services.block_submit(
            block_version=block_version,
            actor=actor,
        )
        extraction = Extraction(block=block, block_version=block_version)
        for template in Template.objects.filter(pk__in=template_ids).order_by("code"):
            source_version = template_selectors.version_in_force(
                template
            ) or template_selectors.version_latest(template)
            contents = services.contents_of(source_version) if source_version else []
            changed = False
            for content in contents:
                if content.language != candidate.language:
                    continue
                for field_name, source in content.fields.items():
                    if not source:
                        continue
                    updated = _replaced(
                        source,
                        key=candidate.key,
                        named=named,
                        call=call,
                        is_html=field_name in HTML_FIELDS,
                    )
                    if updated != source:
                        content.fields[field_name] = updated
                        changed = True
            if not changed:
                extraction.notes.append(
                    _(
                        "%(template)s was left as it is: its copy of the paragraph "
                        "uses other variables."
                    )
                    % {"template": template.code}
                )
                continue
            draft = services.version_draft_create(
                template=template, author=actor, source=source_version
            )
            report = services.version_content_save(
                version=draft, contents=contents, actor=actor
            )
            if not report.ok:  # pragma: no cover - version_content_save raises
                raise services.AuthoringError(str(report.errors))
            draft = services.version_submit(
                version=draft,
                actor=actor,
                comment=_("The paragraph now comes from the content block %(code)s.")
                % {"code": code},
            )
            extraction.versions.append(draft)
        if not extraction.versions:
            raise services.AuthoringError(
                _("No template's copy of the paragraph could use the block.")
            )
        candidate.extracted_block = block
        candidate.save(update_fields=["extracted_block"])
        event_record(
            action="inventory.paragraph.extracted",
            actor=actor,
            subject=block,
            after={
                "block": code,
                "language": candidate.language,
                "versions": [str(v) for v in extraction.versions],
            },
        )
    return extraction
