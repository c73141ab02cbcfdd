"""Turn triggers into communications with rendered, queued dispatches.

Everything is decided and rendered before anything is stored: bad input is
refused naming each problem (`TriggerRefused`), and a communication is either
stored whole, with the exact copy of every dispatch, or not at all.

One path serves one trigger and many: `communications_trigger_bulk` resolves
each template, its version in force, schema validator, contents and blocks
once per call, loads consent for all the customers in two queries, applies
the central rules to all the new dispatches at once, and writes with bulk
inserts and one audit append. `communication_trigger` is the same path for
one request, raising its refusal.
"""

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from audit.services import AuditEntry
from ccm.bulk import rows_insert
from ccm.problems import Problem
from channels_app import incidents, lifecycle, problems, ruling
from channels_app.models import Batch, Channel, Communication, Dispatch
from channels_app.tasks import outbox_kick
from channels_app.template_plans import TemplatePlan, plans_for
from channels_app.trigger_requests import (  # noqa: F401 (re-exported)
    AUTO,
    FALLBACK_ORDER,
    TriggerRefused,
    TriggerRequest,
    schema_validator_cached,
)
from customers.consent import (
    ConsentDecision,
    consent_decide,
    consent_ledgers,
    suppressions_of,
)
from customers.models import Customer, PreferenceEntry
from rules.evaluation import QUEUE
from templates_app.rendering import RenderedContent, RenderError
from templates_app.selectors import LanguageUnavailable
from templates_app.validation import validator_problems

# Rows per round of loads and inserts; keeps every IN (...) list short.
CHUNK = 500


@dataclass
class _Accepted:
    """A request that passed every check, with what each channel will carry."""

    request: TriggerRequest
    plan: TemplatePlan
    channels: list[str]
    decisions: dict[str, ConsentDecision]
    rendered: dict[str, tuple[str, RenderedContent, bytes]]
    # The communication's public id, chosen before rendering: its links name it.
    public_id: uuid.UUID = field(default_factory=uuid.uuid4)


def _sha256(parts: dict[str, str], pdf: bytes = b"") -> str:
    digest = hashlib.sha256(
        json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()
    )
    digest.update(pdf)
    return digest.hexdigest()


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _consent_loaded(
    requests: Sequence[TriggerRequest], plans: dict[str, TemplatePlan]
) -> tuple[dict[int, list[PreferenceEntry]], dict[tuple[str, str], int]]:
    """Load the ledgers and suppressions of every customer in two queries.

    Suppressions are looked up only for the addresses a request may use.
    """
    addresses = {
        address
        for r in requests
        for channel in (
            r.channels if r.channels != AUTO else plans[r.template_code].supported
        )
        # An unknown channel is refused by _check, which names it.
        if channel in Channel.values and (address := r.customer.address_for(channel))
    }
    return (
        consent_ledgers(r.customer.pk for r in requests),
        suppressions_of(addresses),
    )


def _check(
    request: TriggerRequest,
    plan: TemplatePlan,
    preferences: list[PreferenceEntry],
    suppressed: dict[tuple[str, str], int],
) -> _Accepted:
    """Validate, decide and render one request; raise TriggerRefused whole."""
    if plan.refusal:
        raise TriggerRefused(plan.refusal)
    customer = request.customer
    found: dict[str, list[Problem]] = {}
    if data_errors := validator_problems(plan.validator, request.data):
        found["data"] = [problems.DATA_INVALID(detail=error) for error in data_errors]

    channels = request.channels
    if channels == AUTO:
        wanted = list(plan.supported)
    else:
        wanted = list(dict.fromkeys(channels))
        unknown = [c for c in wanted if c not in plan.supported]
        if unknown:
            found["channels"] = [
                problems.CHANNELS_UNSUPPORTED(
                    code=plan.code, unknown=unknown, supported=plan.supported
                )
            ]
        if not wanted:
            found["channels"] = [problems.CHANNELS_NONE()]
    if found:
        raise TriggerRefused(found)

    decisions = {
        channel: consent_decide(
            customer=customer,
            channel=channel,
            category=plan.template.category.code,
            scope=request.scope,
            mandatory=plan.kind == "mandatory",
            requires_opt_in=plan.kind == "marketing",
            preferences=preferences,
            suppressed=suppressed,
        )
        for channel in wanted
    }
    if channels == AUTO:
        chosen = next((c for c in wanted if decisions[c].allowed), None)
        # With no channel allowed, the first is stored as suppressed with why.
        chosen_channels = [chosen] if chosen else wanted[:1]
    else:
        chosen_channels = wanted
        no_address = [c for c in chosen_channels if not customer.address_for(c)]
        if no_address:
            raise TriggerRefused(
                {
                    "customer": [
                        problems.CONTACT_POINT_MISSING(channel=c) for c in no_address
                    ]
                }
            )

    rendered = {}
    public_id = request.public_id or uuid.uuid4()
    for channel in chosen_channels:
        if not decisions[channel].allowed:
            continue
        try:
            language = plan.language(channel, customer.language)
            content, pdf = plan.render(
                channel,
                language,
                request.data,
                customer=customer,
                message=public_id,
            )
        except LanguageUnavailable as exc:
            raise TriggerRefused({"language": [exc.problem]}) from None
        except RenderError as exc:
            raise TriggerRefused(
                {"data": [problems.RENDER_FAILED(detail=str(exc))]},
                render_failure=incidents.RenderFailure(
                    template_code=request.template_code,
                    error=type(exc).__name__,
                    where=exc.where,
                ),
            ) from None
        rendered[channel] = (language, content, pdf)
    return _Accepted(request, plan, chosen_channels, decisions, rendered, public_id)


def _dispatch_build(
    accepted: _Accepted, communication: Communication, channel: str, now: datetime
) -> tuple[Dispatch, bytes]:
    request = accepted.request
    decision = accepted.decisions[channel]
    dispatch = Dispatch(
        communication=communication,
        channel=channel,
        address=request.customer.address_for(channel),
        status_changed=now,
        due_at=request.scheduled_for or now,
        decision=decision.reason,
        language=request.customer.language,
    )
    if channel not in accepted.rendered:
        # Consent refused it: opened suppressed, with no copy, naming the
        # ledger entry or suppression that decided, as the claim's check does.
        dispatch.rule_decisions = [
            {
                "rule": ruling.CONSENT,
                "version": None,
                "outcome": "suppressed",
                "reason": decision.reason,
                "stage": QUEUE,
                "at": now.isoformat(),
                **decision.reference(),
            }
        ]
        return dispatch, b""
    language, content, pdf = accepted.rendered[channel]
    parts = content.parts
    if channel == Channel.EMAIL and parts.get("html"):
        from templates_app.emails import email_document

        # The HTML part is stored, hashed and sent as the whole document, with
        # its language and direction: the console shows these very bytes.
        parts = {
            **parts,
            "html": email_document(
                parts["html"], language=language, subject=parts.get("subject", "")
            ),
        }
    dispatch.language = language
    dispatch.subject = parts.get("subject", "")
    dispatch.body_html = parts.get("html", "") or parts.get("letter_html", "")
    dispatch.body_text = parts.get("text", "") or parts.get("sms_text", "")
    dispatch.block_versions = content.block_versions
    dispatch.content_sha256 = _sha256(parts, pdf)
    return dispatch, pdf


def _copy_drop(dispatch: Dispatch) -> None:
    """Forget the rendered copy of a dispatch the rules stopped before queuing."""
    dispatch.subject = dispatch.body_html = dispatch.body_text = ""
    dispatch.block_versions = {}
    dispatch.content_sha256 = ""


def _audit_entry(
    dispatch: Dispatch,
    status: str,
    accepted: _Accepted,
    requested_by: AbstractBaseUser | None,
    requester_label: str,
) -> AuditEntry:
    request = accepted.request
    queued = status == Dispatch.Status.QUEUED
    after = {
        "communication": str(dispatch.communication.public_id),
        "template": accepted.plan.code,
        "version": accepted.plan.version.number,
        "channel": dispatch.channel,
        "address": dispatch.address,
        "language": dispatch.language,
        "content_sha256": dispatch.content_sha256,
        "due_at": dispatch.due_at.isoformat(),
        "source": f"{request.source_system}:{request.source_reference}".strip(":"),
    }
    if dispatch.rule_decisions:
        after["rules"] = dispatch.rule_decisions
    return AuditEntry(
        action="channels.dispatch.queued" if queued else "channels.dispatch.suppressed",
        actor=requested_by,
        actor_label=requester_label if requested_by is None else "",
        actor_kind="api_client" if requested_by is None else None,
        subject=dispatch,
        after=after,
        reason=dispatch.decision,
    )


def _store(
    accepted: list[_Accepted],
    *,
    requester_label: str,
    requested_by: AbstractBaseUser | None,
    batch: Batch | None,
) -> list[Communication]:
    """Write the accepted requests: communications, dispatches, history, audit."""
    now = timezone.now()
    communications = rows_insert(
        [
            Communication(
                public_id=a.public_id,
                template_code=a.plan.code,
                category=a.plan.template.category.code,
                mandatory=a.plan.kind == "mandatory",
                template_version=a.plan.version,
                customer=a.request.customer,
                data=a.request.data,
                source_system=a.request.source_system,
                source_reference=a.request.source_reference,
                requested_by=requested_by,
                requester_label=requester_label,
                idempotency_key=a.request.idempotency_key,
                scope=a.request.scope,
                scheduled_for=a.request.scheduled_for,
                reissue_of=a.request.reissue_of,
                reason=a.request.reason,
                correlation_key=a.request.correlation_key,
                supersedes=list(a.request.supersedes),
                waits_for=list(a.request.waits_for),
                batch=batch,
            )
            for a in accepted
        ]
    )
    built: list[tuple[Dispatch, bytes, _Accepted]] = []
    for a, communication in zip(accepted, communications, strict=True):
        for channel in a.channels:
            dispatch, pdf = _dispatch_build(a, communication, channel, now)
            built.append((dispatch, pdf, a))

    # Consent stopped the ones it did not let render; the rules judge the rest.
    allowed = [d for d, _, a in built if d.channel in a.rendered]
    verdicts = ruling.trigger_evaluate(dispatches=allowed, now=now)
    judged = {id(d): verdicts[n] for n, d in enumerate(allowed)}
    openings = []
    for dispatch, pdf, _a in built:
        status = Dispatch.Status.SUPPRESSED
        if (verdict := judged.get(id(dispatch))) is not None:
            status = verdict.status
            dispatch.due_at = verdict.due_at
            if verdict.decisions:
                dispatch.rule_decisions = [*dispatch.rule_decisions, *verdict.decisions]
            if status != Dispatch.Status.QUEUED:
                dispatch.decision = verdict.decision
        openings.append((dispatch, status))
        if status != Dispatch.Status.QUEUED:
            # Stopped by consent (never rendered) or by the rules: keep no copy.
            _copy_drop(dispatch)
        elif pdf:
            dispatch.letter_pdf.save(
                f"{dispatch.communication.public_id}-{dispatch.channel}.pdf",
                ContentFile(pdf),
                save=False,
            )
    opened = lifecycle.dispatches_open(
        openings=openings,
        events=[
            _audit_entry(d, status, a, requested_by, requester_label)
            for (d, status), (_, _, a) in zip(openings, built, strict=True)
        ],
        now=now,
    )
    for communication in communications:
        communication.dispatches_opened = []
    for dispatch in sorted(opened, key=lambda d: d.pk):
        dispatch.communication.dispatches_opened.append(dispatch)
    queued = {d.channel for d, status in openings if status == Dispatch.Status.QUEUED}
    if queued:
        transaction.on_commit(partial(outbox_kick, queued))
    return communications


# No savepoint of its own: nothing inside is caught and carried on from, and
# a trigger request's transaction runs it (two statements fewer per request).
@transaction.atomic(savepoint=False)
def communications_trigger_bulk(
    *,
    requests: Sequence[TriggerRequest],
    requester_label: str,
    requested_by: AbstractBaseUser | None = None,
    batch: Batch | None = None,
) -> list[Communication | TriggerRefused]:
    """Trigger many communications; return, in order, each one or its refusal.

    A refused request refuses only itself; the accepted ones are stored whole,
    in one transaction for the call. Each communication returned carries
    `dispatches_opened`: its dispatches as stored, in id order.
    """
    plans = plans_for({r.template_code for r in requests})
    results: list[Communication | TriggerRefused] = []
    for chunk in _chunks(requests, CHUNK):
        preferences, suppressed = _consent_loaded(chunk, plans)
        outcomes: list[_Accepted | TriggerRefused] = []
        for request in chunk:
            try:
                outcomes.append(
                    _check(
                        request,
                        plans[request.template_code],
                        preferences[request.customer.pk],
                        suppressed,
                    )
                )
            except TriggerRefused as refusal:
                outcomes.append(refusal)
        accepted = [o for o in outcomes if isinstance(o, _Accepted)]
        stored = iter(
            _store(
                accepted,
                requester_label=requester_label,
                requested_by=requested_by,
                batch=batch,
            )
            if accepted
            else []
        )
        results.extend(
            next(stored) if isinstance(o, _Accepted) else o for o in outcomes
        )
    render_failures_note(results)
    return results


def render_failures_note(results: Sequence) -> None:
    """Tell operations of the refusals an approved template's render caused.

    A caller whose transaction rolls back on a refusal (the single-trigger
    API) notes them again after the rollback.
    """
    incidents.render_failures_note(
        r.render_failure
        for r in results
        if isinstance(r, TriggerRefused) and r.render_failure is not None
    )


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
    request = TriggerRequest(
        template_code=template_code,
        customer=customer,
        data=data,
        channels=channels,
        source_system=source_system,
        source_reference=source_reference,
        idempotency_key=idempotency_key,
        scheduled_for=scheduled_for,
        scope=scope,
        correlation_key=correlation_key,
        supersedes=list(supersedes),
        waits_for=list(waits_for),
        reissue_of=reissue_of,
        reason=reason,
    )
    (result,) = communications_trigger_bulk(
        requests=[request],
        requester_label=requester_label,
        requested_by=requested_by,
        batch=batch,
    )
    if isinstance(result, TriggerRefused):
        raise result
    return result
