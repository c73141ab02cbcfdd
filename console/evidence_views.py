"""Evidence packs from the console: one dispatch's, or a customer's over a range.

A pack carries contact data unmasked, so who downloads one must also be
allowed to unmask (EVIDENCE_PERMISSIONS); every download is audited with the
SHA-256 of the bytes given out (`console.services.evidence_exported`).
"""

import hashlib
import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import urlencode
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from console import evidence, selectors, services
from console.access import console_view
from console.dispatch_views import dispatch_or_404
from console.forms import EvidenceRangeForm
from customers.models import Customer

# Evidence packs carry contact data unmasked: who exports one may unmask.
EVIDENCE_PERMISSIONS = ("console.export_evidence", "console.unmask_contact")


def _evidence_response(request, *, bundle: dict, subject, scope: dict, name: str):
    if request.GET.get("format") == "pdf":
        body = evidence.evidence_pdf(bundle)
        content_type, extension = "application/pdf", "pdf"
    else:
        body = evidence.bundle_json_bytes(bundle)
        content_type, extension = "application/json; charset=utf-8", "json"
    services.evidence_exported(
        actor=request.user,
        subject=subject,
        scope=scope,
        sha256=hashlib.sha256(body).hexdigest(),
        fmt=extension,
    )
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
    return response


@console_view(*EVIDENCE_PERMISSIONS)
@require_GET
def dispatch_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the evidence pack of one dispatch (JSON, or PDF with format=pdf)."""
    dispatch = dispatch_or_404(pk)
    customer = dispatch.communication.customer
    bundle = evidence.evidence_bundle(
        dispatches=[dispatch], customer=customer, actor=request.user, single=True
    )
    return _evidence_response(
        request,
        bundle=bundle,
        subject=dispatch,
        scope={"dispatch": dispatch.pk},
        name=f"evidence-dispatch-{dispatch.pk}",
    )


MAX_EVIDENCE_DISPATCHES = 500


@console_view(*EVIDENCE_PERMISSIONS)
@require_GET
def customer_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the evidence pack of a customer over a date range."""
    customer = get_object_or_404(Customer, pk=pk)
    form = EvidenceRangeForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            json.dumps(form.errors), status=400, content_type="application/json"
        )
    since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    dispatches = selectors.evidence_dispatches(
        customer=customer, since=since, until=until, limit=MAX_EVIDENCE_DISPATCHES
    )
    if dispatches is None:
        return HttpResponse(
            ngettext(
                "More than %(n)s dispatch: narrow the date range.",
                "More than %(n)s dispatches: narrow the date range.",
                MAX_EVIDENCE_DISPATCHES,
            )
            % {"n": MAX_EVIDENCE_DISPATCHES},
            status=400,
        )
    bundle = evidence.evidence_bundle(
        dispatches=dispatches,
        customer=customer,
        actor=request.user,
        since=since,
        until=until,
    )
    scope = {
        "customer": customer.external_id,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    suffix = urlencode({"since": since or "", "until": until or ""}).replace("&", "_")
    return _evidence_response(
        request,
        bundle=bundle,
        subject=customer,
        scope=scope,
        name=f"evidence-{customer.external_id}-{suffix}".replace("=", ""),
    )
