"""A template resolved once per trigger call, and rendered from there.

`TemplatePlan` holds what a reviewer approved for one template code: the
version in force (its rows checked against their hash), the schema validator,
the contents and blocks by language, and the channels it supports; or the
refusal that says why no version can be used. `communications_trigger_bulk`
(`channels_app.dispatching`) makes one plan per code in a call and renders
every request of that code through it.
"""

import json
import uuid

from django.conf import settings

from ccm.problems import Problem
from channels_app import problems
from channels_app.footers import footer_apply
from channels_app.models import Channel
from channels_app.trigger_requests import FALLBACK_ORDER, schema_validator_cached
from customers.models import Customer
from templates_app import letters
from templates_app.models import Template, TemplateVersion
from templates_app.rendering import render_content
from templates_app.selectors import (
    block_sources_for_version,
    language_choose,
    versions_in_force,
)
from templates_app.services import version_hash_ok, version_verification_load
from templates_app.version_settings import version_formats


class TemplatePlan:
    """A template resolved once per call: version in force, validator, content."""

    def __init__(
        self, code: str, template: Template | None, version: TemplateVersion | None
    ):
        self.code = code
        self.template = template
        self.version: TemplateVersion | None = None
        self.refusal: dict[str, list[Problem]] | None = None
        self.supported: list[str] = []
        if template is None:
            self.refusal = {"template": [problems.TEMPLATE_UNKNOWN(code=code)]}
            return
        if version is None:
            self.refusal = {"template": [problems.TEMPLATE_NOT_IN_FORCE(code=code)]}
            return
        # The rows checked against the hash are the rows rendered.
        version_verification_load(
            version, reuse_seconds=settings.TEMPLATE_ROWS_REUSE_SECONDS
        )
        if not version_hash_ok(version):
            self.refusal = {
                "template": [problems.TEMPLATE_HASH_MISMATCH(version=version)]
            }
            return
        self.version = version
        self._blocks: dict[str, dict] = {}
        self._contents = {(c.channel, c.language): c for c in version.contents.all()}
        # What a reviewer approved decides, never the live template row: the
        # category (so the kind), channels and schema frozen on the version in
        # force. The plan's own template instance takes the approved category,
        # which the communication records (never saved from here).
        template.category = version.category
        self.validator = schema_validator_cached(
            json.dumps(version.data_schema, ensure_ascii=False)
        )
        self.supported = [c for c in FALLBACK_ORDER if c in version.channels]
        self.kind = version.category.kind
        self._languages: dict[tuple[str, str], str] = {}

    def language(self, channel: str, customer_language: str) -> str:
        key = (channel, customer_language)
        if key not in self._languages:
            self._languages[key] = language_choose(
                self.version, channel=channel, customer_language=customer_language
            )
        return self._languages[key]

    def render(
        self,
        channel: str,
        language: str,
        data: dict,
        *,
        customer: Customer,
        message: uuid.UUID,
    ):
        """Return the rendered parts of one channel (and PDF bytes for letters).

        Digits and calendar follow the customer's preference, else the
        version's. The parts carry the preference footer, linking to the
        centre from this message, before the letter is printed to PDF.
        """
        if language not in self._blocks:
            self._blocks[language] = block_sources_for_version(self.version, language)
        rendered = render_content(
            channel=channel,
            language=language,
            sources=self._contents[(channel, language)].sources(),
            data=data,
            blocks=self._blocks[language],
            formats=version_formats(
                self.version,
                language=language,
                customer_digits=customer.digits,
                customer_calendar=customer.calendar,
            ),
            remote_images=self.version.category.allow_remote_images,
        )
        rendered.parts = footer_apply(
            rendered.parts,
            channel=channel,
            language=language,
            customer_id=customer.pk,
            message=message,
            marketing=self.kind == "marketing",
        )
        pdf = b""
        if channel == Channel.LETTER:
            pdf = letters.letter_pdf(
                rendered.parts["letter_html"],
                language=language,
                css=rendered.parts.get("letter_css", ""),
                title=self.template.name,
                limits=letters.letter_limits(self.version.category.code),
            ).pdf
        return rendered, pdf


def plans_for(codes: set[str]) -> dict[str, TemplatePlan]:
    versions = versions_in_force(codes)
    templates = {code: version.template for code, version in versions.items()}
    if missing := codes - set(versions):
        templates.update(
            (t.code, t)
            for t in Template.objects.select_related("category").filter(
                code__in=missing
            )
        )
    return {
        code: TemplatePlan(code, templates.get(code), versions.get(code))
        for code in codes
    }
