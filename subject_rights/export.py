"""What is held about a customer, for them: JSON and a readable PDF.

The export lists the customer record, their preference ledger, every
communication with its data snapshot and the dispatches it made (channel,
address, status, the stored copy), what they told the contact center, their
inbound messages, the legal holds that keep anything of theirs, their
erasure requests and the audit events about them with the personal parts
read back (or "erased on <date>"). Each export is audited.
"""

import json
from collections import Counter

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from audit.models import AuditEvent
from audit.sealing import Unsealer, readable
from audit.services import event_record
from channels_app.models import Communication, Dispatch, InboundMessage
from console.models import Feedback
from customers.models import Customer, PreferenceEntry
from retention.holds import customer_holds
from subject_rights.models import ErasureRequest
from templates_app import letters

EXPORT_CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "Noto Sans", "Noto Naskh Arabic", "Amiri", sans-serif;
       font-size: 10pt; }
h1 { font-size: 16pt; margin: 0 0 4mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: 1.5mm; vertical-align: top;
         text-align: start; }
th { background: #f0f0f0; width: 30%; }
.ltr { direction: ltr; unicode-bidi: isolate; }
pre { white-space: pre-wrap; font-family: inherit; margin: 0; }
.muted { color: #555; }
"""


def customer_export(customer: Customer) -> dict:
    """Return everything held about the customer as JSON-ready data."""
    dispatches = list(
        Dispatch.objects.filter(communication__customer=customer)
        .select_related("communication")
        .order_by("communication__created", "pk")
    )
    communications = {}
    for dispatch in dispatches:
        communication = dispatch.communication
        entry = communications.setdefault(
            communication.pk, _communication_entry(communication)
        )
        entry["dispatches"].append(_dispatch_entry(dispatch))
    export = {
        "generated": timezone.now(),
        "customer": {
            "external_id": customer.external_id,
            "name": customer.name,
            "language": customer.language,
            "time_zone": customer.time_zone,
            "email": customer.email,
            "phone": customer.phone,
            "postal_address": customer.postal_address,
            "created": customer.created,
            "updated": customer.updated,
        },
        "preferences": [
            {
                "recorded_at": entry.recorded_at,
                "channel": entry.channel,
                "category": entry.category,
                "scope": entry.scope,
                "opted_in": entry.opted_in,
                "source": entry.source,
                "legal_basis": entry.legal_basis,
                "note": entry.note,
            }
            for entry in PreferenceEntry.objects.filter(customer=customer).order_by(
                "recorded_at", "pk"
            )
        ],
        "communications": list(communications.values()),
        "contact_center": [
            {
                "dispatch": feedback.dispatch_id,
                "kind": feedback.kind,
                "severity": feedback.severity,
                "text": feedback.text,
                "created": feedback.created,
            }
            for feedback in Feedback.objects.filter(
                dispatch__communication__customer=customer
            ).order_by("created", "pk")
        ],
        "inbound_messages": [
            {
                "channel": message.channel,
                "from": message.sender,
                "text": message.text,
                "received_at": message.received_at,
            }
            for message in InboundMessage.objects.filter(customers=customer).order_by(
                "received_at", "pk"
            )
        ],
        "legal_holds": [
            {
                "reference": hold.reference,
                "scope": hold.scope,
                "placed_at": hold.placed_at,
            }
            for hold in customer_holds(customer)
        ],
        "erasure_requests": [
            {
                "reference": request.reference,
                "requested_at": request.requested_at,
                "status": request.status,
                "erased": request.erased,
                "kept": request.kept,
            }
            for request in ErasureRequest.objects.filter(customer=customer).order_by(
                "requested_at"
            )
        ],
        "audit_events": _events(customer, dispatches),
    }
    return json.loads(json.dumps(export, cls=DjangoJSONEncoder, ensure_ascii=False))


def _communication_entry(communication: Communication) -> dict:
    return {
        "id": str(communication.public_id),
        "template": communication.template_code,
        "category": communication.category,
        "created": communication.created,
        "source_system": communication.source_system,
        "data": communication.data,
        "dispatches": [],
    }


def _dispatch_entry(dispatch: Dispatch) -> dict:
    return {
        "id": dispatch.pk,
        "channel": dispatch.channel,
        "language": dispatch.language,
        "address": dispatch.address,
        "status": dispatch.status,
        "created": dispatch.created,
        "subject": dispatch.subject,
        "text": dispatch.body_text,
        "letter": bool(dispatch.letter_pdf),
        "content_sha256": dispatch.content_sha256,
        "content_erased_at": getattr(dispatch, "content_erased_at", None),
    }


def _events(customer: Customer, dispatches: list[Dispatch]) -> dict:
    """Return the audit events about the customer: counts, and the readable list."""
    types = ContentType.objects.get_for_models(Customer, Dispatch, Communication)
    condition = (
        Q(content_type=types[Customer], object_id=str(customer.pk))
        | Q(
            content_type=types[Dispatch],
            object_id__in=[str(dispatch.pk) for dispatch in dispatches],
        )
        | Q(
            content_type=types[Communication],
            object_id__in=list({str(d.communication_id) for d in dispatches}),
        )
    )
    events = list(AuditEvent.objects.filter(condition).order_by("sequence"))
    unsealer = Unsealer.for_events(events)
    return {
        "by_action": dict(Counter(event.action for event in events)),
        "events": [
            {
                "sequence": event.sequence,
                "created": event.created,
                "action": event.action,
                "actor": event.actor_label,
                **readable(unsealer.event(event)),
            }
            for event in events
        ],
    }


def export_record(
    *, customer: Customer, actor: AbstractBaseUser, fmt: str, actor_label: str = ""
) -> None:
    """Audit that what is held about a customer was exported."""
    event_record(
        action="subject_rights.export.made",
        actor=actor,
        actor_label=actor_label,
        subject=customer,
        after={"format": fmt},
    )


def customer_export_pdf(export: dict) -> bytes:
    """Render an export as a PDF in the customer's language (Arabic right to left)."""
    language = "ar" if export["customer"]["language"] == "ar" else "en"
    shown = {
        **export,
        "communications": [
            {
                **communication,
                "data": json.dumps(communication["data"], ensure_ascii=False, indent=1)
                if communication["data"]
                else "",
            }
            for communication in export["communications"]
        ],
    }
    with translation.override(language):
        body = render_to_string("subject_rights/export_pdf.html", {"export": shown})
        return letters.letter_pdf(
            body,
            language=language,
            css=EXPORT_CSS,
            title="Data export",
            limits=letters.RECORD_LIMITS,
        ).pdf
