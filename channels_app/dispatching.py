"""Turn a trigger into a communication with rendered, queued dispatches.

Everything is decided and rendered before anything is queued, inside one
transaction: bad input raises TriggerRefused naming each problem, and a
communication is either stored whole (with the exact copy of every dispatch)
or not at all.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from audit.services import AuditEntry, events_record_bulk
from channels_app.models import (
    Batch,
    Channel,
    Communication,
    Customer,
    Dispatch,
    DispatchStatusChange,
)
from channels_app.services import consent_decide
from channels_app.tasks import outbox_kick
from templates_app import letters
from templates_app.models import Template, TemplateVersion
from templates_app.rendering import RenderError, render_content
from templates_app.selectors import (
    LanguageUnavailable,
    block_sources_for_version,
    language_choose,
    version_in_force,
)
from templates_app.services import version_hash_ok
from templates_app.validation import data_problems

# The order `auto` tries channels in, among those the template supports.
FALLBACK_ORDER = (Channel.EMAIL, Channel.SMS, Channel.LETTER)
AUTO = "auto"


class TriggerRefused(Exception):
    """The trigger cannot be honoured; `problems` maps each field to its errors."""

    def __init__(self, problems: dict[str, list[str]]):
        self.problems = problems
        super().__init__(
            "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in problems.items())
        )


@dataclass
class TriggerRequest:
    """One communication to trigger, as one row of a bulk call."""

    template_code: str
    customer: Customer
    data: dict
    channels: Sequence[str] | str = AUTO
    source_system: str = ""
    source_reference: str = ""
    idempotency_key: str = ""
    scheduled_for: datetime | None = None
    scope: str = ""
    correlation_key: str = ""
    supersedes: Sequence[str] = field(default_factory=list)
    waits_for: Sequence[str] = field(default_factory=list)


def communications_trigger_bulk(
    *,
    requests: Sequence[TriggerRequest],
    requester_label: str,
    requested_by: AbstractBaseUser | None = None,
    batch: Batch | None = None,
) -> list[Communication | TriggerRefused]:
    """Trigger many communications; return, in order, each one or its refusal.

    A refused row refuses only itself; the accepted rows are stored whole.
    """
    results: list[Communication | TriggerRefused] = []
    for request in requests:
        try:
            with transaction.atomic():
                results.append(
                    communication_trigger(
                        template_code=request.template_code,
                        customer=request.customer,
                        data=request.data,
                        channels=request.channels,
                        requester_label=requester_label,
                        requested_by=requested_by,
                        source_system=request.source_system,
                        source_reference=request.source_reference,
                        idempotency_key=request.idempotency_key,
                        scheduled_for=request.scheduled_for,
                        scope=request.scope,
                        correlation_key=request.correlation_key,
                        supersedes=request.supersedes,
                        waits_for=request.waits_for,
                        batch=batch,
                    )
                )
        except TriggerRefused as refusal:
            results.append(refusal)
    return results


def _sha256(parts: dict[str, str], pdf: bytes = b"") -> str:
    digest = hashlib.sha256(
        json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()
    )
    digest.update(pdf)
    return digest.hexdigest()


def _render(version: TemplateVersion, channel: str, language: str, data: dict):
    """Return the rendered parts (and PDF bytes for letters) of one channel."""
    content = version.contents.get(channel=channel, language=language)
    blocks = block_sources_for_version(version, language)
    rendered = render_content(
        channel=channel,
        language=language,
        sources=content.sources(),
        data=data,
        blocks=blocks,
    )
    pdf = b""
    if channel == Channel.LETTER:
        pdf = letters.letter_pdf(
            rendered.parts["letter_html"],
            language=language,
            css=rendered.parts.get("letter_css", ""),
            title=version.template.name,
        ).pdf
    return rendered, pdf


@transaction.atomic
def communication_trigger(
    *,
    template_code: str,
    customer: Customer,
    data: dict,
    channels: Sequence[str] | str = AUTO,
    requester_label: str,
    requested_by: AbstractBaseUser | None = None,
    source_system: str = "",
    source_reference: str = "",
    idempotency_key: str = "",
    scheduled_for: datetime | None = None,
    scope: str = "",
    reissue_of: Communication | None = None,
    reason: str = "",
    correlation_key: str = "",
    supersedes: Sequence[str] = (),
    waits_for: Sequence[str] = (),
    batch: Batch | None = None,
) -> Communication:
    """Decide, render and queue one communication; refuse bad input whole."""
    template = (
        Template.objects.select_related("category").filter(code=template_code).first()
    )
    if template is None:
        raise TriggerRefused({"template": [f"unknown template {template_code!r}"]})
    version = version_in_force(template)
    if version is None:
        raise TriggerRefused(
            {"template": [f"{template_code} has no approved version in force"]}
        )
    if not version_hash_ok(version):
        raise TriggerRefused(
            {
                "template": [
                    f"{version} content no longer matches its approved hash; "
                    "refusing to send"
                ]
            }
        )
    problems: dict[str, list[str]] = {}
    if data_errors := data_problems(template.data_schema, data):
        problems["data"] = [str(error) for error in data_errors]

    supported = [c for c in FALLBACK_ORDER if c in template.channels]
    if channels == AUTO:
        wanted = supported
    else:
        wanted = list(dict.fromkeys(channels))
        unknown = [c for c in wanted if c not in supported]
        if unknown:
            problems["channels"] = [
                f"{template_code} does not support {', '.join(unknown)} "
                f"(it supports {', '.join(supported)})"
            ]
        if not wanted:
            problems["channels"] = ["name at least one channel, or 'auto'"]
    if problems:
        raise TriggerRefused(problems)

    kind = template.category.kind
    decisions = {
        channel: consent_decide(
            customer=customer,
            channel=channel,
            category=template.category.code,
            scope=scope,
            mandatory=kind == "mandatory",
            requires_opt_in=kind == "marketing",
        )
        for channel in wanted
    }
    if channels == AUTO:
        chosen = next((c for c in wanted if decisions[c].allowed), None)
        # With no channel allowed, the first is stored as suppressed with why.
        plan = [chosen] if chosen else wanted[:1]
    else:
        plan = wanted
        no_address = [c for c in plan if not customer.address_for(c)]
        if no_address:
            raise TriggerRefused(
                {"customer": [f"no usable {c} contact point" for c in no_address]}
            )

    now = timezone.now()
    communication = Communication.objects.create(
        template_code=template.code,
        category=template.category.code,
        mandatory=kind == "mandatory",
        template_version=version,
        customer=customer,
        data=data,
        source_system=source_system,
        source_reference=source_reference,
        requested_by=requested_by,
        requester_label=requester_label,
        idempotency_key=idempotency_key,
        scope=scope,
        scheduled_for=scheduled_for,
        reissue_of=reissue_of,
        reason=reason,
        correlation_key=correlation_key,
        supersedes=list(supersedes),
        waits_for=list(waits_for),
        batch=batch,
    )
    dispatches, audit_entries = [], []
    for channel in plan:
        decision = decisions[channel]
        dispatch = Dispatch(
            communication=communication,
            channel=channel,
            address=customer.address_for(channel),
            status_changed=now,
            due_at=scheduled_for or now,
            decision=decision.reason,
        )
        if not decision.allowed:
            dispatch.status = Dispatch.Status.SUPPRESSED
            dispatch.language = customer.language
            dispatch.content_sha256 = ""
        else:
            try:
                language = language_choose(
                    version, channel=channel, customer_language=customer.language
                )
                rendered, pdf = _render(version, channel, language, data)
            except LanguageUnavailable as exc:
                raise TriggerRefused({"language": [str(exc)]}) from None
            except RenderError as exc:
                raise TriggerRefused({"data": [str(exc)]}) from None
            parts = rendered.parts
            dispatch.language = language
            dispatch.subject = parts.get("subject", "")
            dispatch.body_html = parts.get("html", "") or parts.get("letter_html", "")
            dispatch.body_text = parts.get("text", "") or parts.get("sms_text", "")
            dispatch.block_versions = rendered.block_versions
            dispatch.content_sha256 = _sha256(parts, pdf)
            if pdf:
                dispatch.letter_pdf.save(
                    f"{communication.public_id}-{channel}.pdf",
                    ContentFile(pdf),
                    save=False,
                )
        dispatch.save()
        dispatches.append(dispatch)
        audit_entries.append(
            AuditEntry(
                action=(
                    "channels.dispatch.queued"
                    if decision.allowed
                    else "channels.dispatch.suppressed"
                ),
                actor=requested_by,
                actor_label=requester_label if requested_by is None else "",
                actor_kind="api_client" if requested_by is None else None,
                subject=dispatch,
                after={
                    "communication": str(communication.public_id),
                    "template": template.code,
                    "version": version.number,
                    "channel": channel,
                    "address": dispatch.address,
                    "language": dispatch.language,
                    "content_sha256": dispatch.content_sha256,
                    "due_at": dispatch.due_at.isoformat(),
                    "source": f"{source_system}:{source_reference}".strip(":"),
                },
                reason=decision.reason,
            )
        )
    DispatchStatusChange.objects.bulk_create(
        DispatchStatusChange(dispatch=d, status=d.status, at=now, detail=d.decision)
        for d in dispatches
    )
    events_record_bulk(entries=audit_entries)
    transaction.on_commit(outbox_kick)
    return communication
