"""Evidence packs: what was sent, when, where, from which data, built by whom.

A pack covers one dispatch, or a customer's dispatches over a date range. The
JSON bundle carries the exact copy (letters as base64 PDF), the status history,
attempts, the data snapshot and its source, the template version with its
author and approvals, who proposed and approved each rule version that decided
it, and the audit events covering it with their sequence
numbers and hashes, so `manage.py audit_verify` output can be matched to it.
The PDF is the same content for people, rendered by the letter renderer: an
email's HTML part is laid out in its own direction beside its text part, and
the exact copy travels inside the PDF as an attached file (the letter PDF, or
the email's HTML part), so the PDF alone shows what the customer received.
"""

import base64
import hashlib
import json
from datetime import date, datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from audit.models import AuditChainHead
from audit.sealing import readable
from audit.services import subject_type_label
from channels_app.models import Dispatch
from console import selectors
from customers.models import Customer
from rules.selectors import rule_versions_named
from templates_app import emails, letters
from templates_app.models import CategoryChange
from templates_app.selectors import category_names

EVIDENCE_FORMAT = "ccm-evidence/1"


def _user_label(user) -> str:
    if user is None:
        return ""
    full = user.get_full_name()
    return f"{full} ({user.get_username()})" if full else user.get_username()


def _pdf_bytes(dispatch: Dispatch) -> bytes:
    if not dispatch.letter_pdf:
        return b""
    with dispatch.letter_pdf.open("rb") as handle:
        return handle.read()


def _decided_rules(dispatch: Dispatch) -> list[tuple[str, int]]:
    """Return (rule, version) of each rule version that decided the dispatch."""
    named = [
        (decision.get("rule"), decision.get("version"))
        for decision in dispatch.rule_decisions or []
    ]
    # Sequencing is declared by the communication, not by an approved rule.
    return list(
        dict.fromkeys(
            (name, number)
            for name, number in named
            if isinstance(name, str)
            and isinstance(number, int)
            and name != "sequencing"
        )
    )


def _rule_approvals(dispatch: Dispatch, versions: dict) -> list[dict]:
    """Return who proposed and who approved each rule version that decided it."""
    entries = []
    for name, number in _decided_rules(dispatch):
        version = versions.get((name, number))
        entries.append(
            {
                "rule": name,
                "version": number,
                "status": version.status if version else None,
                "proposed_by": _user_label(version.proposed_by) if version else "",
                "proposed_at": version.proposed_at if version else None,
                "reason": version.reason if version else "",
                "approved_by": _user_label(version.decided_by) if version else "",
                "approved_at": version.decided_at if version else None,
                "comment": version.comment if version else "",
            }
        )
    return entries


def _category_changes(dispatches) -> dict[str, list[CategoryChange]]:
    """Return the approved kind changes of the dispatches' categories, newest first."""
    changes: dict[str, list[CategoryChange]] = {}
    for change in (
        CategoryChange.objects.filter(
            status=CategoryChange.Status.APPROVED,
            category__code__in={d.communication.category for d in dispatches},
        )
        .select_related("category", "proposer", "decided_by")
        .order_by("-decided_at")
    ):
        changes.setdefault(change.category.code, []).append(change)
    return changes


def _category_approval(dispatch: Dispatch, changes: dict) -> dict | None:
    """Return who approved the category's kind in force when it was triggered."""
    communication = dispatch.communication
    change = next(
        (
            c
            for c in changes.get(communication.category, [])
            if c.decided_at and c.decided_at <= communication.created
        ),
        None,
    )
    if change is None:
        return None
    return {
        "category": communication.category,
        "kind": change.kind,
        "required_approvals": change.required_approvals,
        "proposed_by": _user_label(change.proposer),
        "approved_by": _user_label(change.decided_by),
        "approved_at": change.decided_at,
        "comment": change.comment,
    }


def _dispatch_entry(
    dispatch: Dispatch, rule_versions: dict, category_changes: dict
) -> dict:
    communication = dispatch.communication
    version = communication.template_version
    pdf = _pdf_bytes(dispatch)
    return {
        "id": dispatch.pk,
        "communication": str(communication.public_id),
        "channel": dispatch.channel,
        "language": dispatch.language,
        "address": dispatch.address,
        "status": dispatch.status,
        "created": communication.created,
        "due_at": dispatch.due_at,
        "decision": dispatch.decision,
        "rule_decisions": dispatch.rule_decisions,
        # Who approved the rule versions that decided it (the template's
        # approvals are under "template").
        "rule_approvals": _rule_approvals(dispatch, rule_versions),
        # Who approved the category's kind (mandatory, marketing, service) in
        # force then; None while it is the kind the category was created with.
        "category_approval": _category_approval(dispatch, category_changes),
        "error": dispatch.error,
        "severity": dispatch.severity,
        "provider_message_id": dispatch.provider_message_id,
        "resend_of": dispatch.resend_of_id,
        "reissue_of": (
            str(communication.reissue_of.public_id)
            if communication.reissue_of_id
            else None
        ),
        # When its personal content was erased (retention or a request).
        "content_erased_at": dispatch.content_erased_at,
        "content_erased_cause": dispatch.content_erased_cause,
        "copy": {
            "subject": dispatch.subject,
            "html": dispatch.body_html,
            "text": dispatch.body_text,
            "letter_pdf_base64": base64.b64encode(pdf).decode() if pdf else None,
            "letter_pdf_sha256": hashlib.sha256(pdf).hexdigest() if pdf else None,
            "content_sha256": dispatch.content_sha256,
            "block_versions": dispatch.block_versions,
        },
        "status_history": [
            {"status": change.status, "at": change.at, "detail": change.detail}
            for change in dispatch.status_changes.all()
        ],
        "attempts": [
            {
                "number": attempt.number,
                "started": attempt.started,
                "duration_ms": attempt.duration_ms,
                "outcome": attempt.outcome,
                "error": attempt.error,
                "worker": attempt.worker,
            }
            for attempt in dispatch.attempts.all()
        ],
        "data": {
            "payload": communication.data,
            "source_system": communication.source_system,
            "source_reference": communication.source_reference,
            "requester": communication.requester_label,
            "reason": communication.reason,
        },
        "template": {
            "code": version.template.code,
            "name": version.template.name,
            "name_ar": version.template.name_ar,
            # The category the version was approved with, as it was sent.
            "category": version.category.code,
            "version": version.number,
            "status": version.status,
            "content_hash": version.content_hash,
            "author": _user_label(version.author),
            "submitted_at": version.submitted_at,
            "decided_at": version.decided_at,
            "effective_from": version.effective_from,
            "effective_until": version.effective_until,
            "approvals": [
                {
                    "reviewer": _user_label(approval.reviewer),
                    "at": approval.at,
                    "comment": approval.comment,
                    "content_hash": approval.content_hash,
                }
                for approval in selectors.approvals_for(version)
            ],
        },
    }


def _event_entry(event) -> dict:
    return {
        "sequence": event.sequence,
        "created": event.created,
        "action": event.action,
        "actor": event.actor_label,
        "actor_kind": event.actor_kind,
        "subject_type": subject_type_label(event.content_type),
        "object_id": event.object_id,
        "subject": event.subject_label,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "correlation_id": event.correlation_id,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        # The sealed personal parts above, read back; "erased on <date>" once
        # the data subject's key is destroyed. The hash covers the stored form.
        "readable": readable(event.readable),
    }


def evidence_bundle(
    *,
    dispatches: list[Dispatch],
    customer: Customer,
    actor: AbstractBaseUser,
    since: date | None = None,
    until: date | None = None,
    single: bool = False,
) -> dict:
    """Return the evidence bundle for these dispatches as plain JSON-ready data."""
    events = selectors.audit_events_for(dispatches)
    rule_versions = rule_versions_named(
        pair for dispatch in dispatches for pair in _decided_rules(dispatch)
    )
    category_changes = _category_changes(dispatches)
    head = AuditChainHead.objects.first()
    return json.loads(
        json.dumps(
            {
                "format": EVIDENCE_FORMAT,
                "generated_at": timezone.now(),
                "generated_by": _user_label(actor),
                "scope": {
                    "kind": "dispatch" if single else "customer",
                    "dispatch": dispatches[0].pk if single and dispatches else None,
                    "since": since,
                    "until": until,
                },
                "customer": {
                    "external_id": customer.external_id,
                    "name": customer.name,
                    "language": customer.language,
                    "erased_at": customer.erased_at,
                },
                "erasure": _erasure_statement(customer),
                "dispatches": [
                    _dispatch_entry(dispatch, rule_versions, category_changes)
                    for dispatch in dispatches
                ],
                "audit_events": [_event_entry(event) for event in events],
                "audit_chain": {
                    "head_sequence": head.last_sequence if head else 0,
                    "head_hash": head.last_hash if head else "",
                    "verify_with": "python manage.py audit_verify",
                },
            },
            cls=DjangoJSONEncoder,
            ensure_ascii=False,
        )
    )


def _erasure_statement(customer: Customer) -> str | None:
    """Return the pack's statement that the customer's data was erased, if it was."""
    if customer.erased_at is None:
        return None
    return gettext(
        "The customer's personal data was erased on %(date)s at their request: "
        "names, contact points, copies and free text are no longer held, and the "
        "audit events keep their hashes with the personal parts erased. "
        "Anything still shown was kept under a legal hold or a retention duty."
    ) % {"date": customer.erased_at.date().isoformat()}


def bundle_json_bytes(bundle: dict) -> bytes:
    """Return the bundle as indented UTF-8 JSON, as downloaded."""
    return json.dumps(bundle, ensure_ascii=False, indent=2, sort_keys=True).encode()


# The pack's rules select its own elements only (children of the body or of a
# dispatch), so an email shown inside keeps its own headings and tables.
EVIDENCE_CSS = """
body > h1 { font-size: 16pt; margin: 0 0 4mm; }
body > h2, .dispatch > h2 { font-size: 13pt; margin: 6mm 0 2mm;
                            border-bottom: 1px solid #999; }
.dispatch > h3 { font-size: 11pt; margin: 4mm 0 1mm; }
.dispatch > h4 { font-size: 9.5pt; margin: 3mm 0 1mm; }
body > table, .dispatch > table { width: 100%; font-size: 8.5pt;
                                  margin-bottom: 3mm; }
body > table th, body > table td, .dispatch > table th, .dispatch > table td {
    border: 1px solid #bbb; padding: 1mm 1.5mm; vertical-align: top;
    text-align: start; }
body > table th, .dispatch > table th { background: #eee; width: 28%; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 7pt;
        word-break: break-all; }
[dir="ltr"] { direction: ltr; text-align: left; }
[dir="rtl"] { direction: rtl; text-align: right; }
span[dir] { text-align: inherit; }
.copy { border: 1px solid #888; padding: 2mm; font-size: 9pt;
        white-space: pre-wrap; margin-bottom: 2mm; }
.dispatch { page-break-inside: auto; }
.email-copy { border: 1px solid #888; padding: 3mm; font-size: 10pt;
              margin-bottom: 2mm; overflow: hidden; }
.email-copy * { max-width: 100% !important; }
.email-copy > :first-child { margin-top: 0; }
.email-copy > :last-child { margin-bottom: 0; }
/* WeasyPrint lays a table out at its given width whatever its max-width. */
.email-copy table { border-collapse: separate; width: auto !important; }
table.attached { page-break-inside: avoid; }
.note { font-size: 8.5pt; margin: 0 0 1mm; page-break-before: avoid; }
ul.images { font-size: 7.5pt; margin: 0 0 2mm; }
"""

# Shown inside the pack, an email must bring no page-wide rules: no <style>,
# <link> or <base> survives, and classes go, since here they could only select
# the pack's own rules. Inline styles stay, as nh3 kept them when it was sent.
# The attached HTML file keeps the copy byte for byte.
_EMAIL_SHOWN = nh3.Cleaner(
    tags=emails.ALLOWED_TAGS,
    attributes={
        tag: names - {"class"} for tag, names in emails.ALLOWED_ATTRIBUTES.items()
    },
    url_schemes=emails.URL_SCHEMES,
    filter_style_properties=emails.ALLOWED_STYLE_PROPERTIES,
    link_rel="noopener noreferrer",
    strip_comments=True,
)


class _ImageSources(HTMLParser):
    """Collect the src of every img in an HTML fragment, in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            source = dict(attrs).get("src")
            if source:
                self.sources.append(source)


def _outside_images(html: str) -> list[str]:
    """Return the addresses of the images an email loads from elsewhere."""
    parser = _ImageSources()
    parser.feed(html)
    parser.close()
    outside = []
    for source in dict.fromkeys(parser.sources):
        parts = urlsplit(source)
        if parts.scheme not in ("", "data") or parts.netloc:
            outside.append(source)
    return outside


def _copy_file(dispatch: dict) -> letters.EmbeddedFile | None:
    """Return the exact copy of a bundled dispatch as a file to attach, if any."""
    copy = dispatch["copy"]
    created = datetime.fromisoformat(dispatch["created"])
    if dispatch["channel"] == "letter" and copy["letter_pdf_base64"]:
        return letters.EmbeddedFile(
            name=f"letter-dispatch-{dispatch['id']}.pdf",
            content=base64.b64decode(copy["letter_pdf_base64"]),
            description=gettext("Letter as sent"),
            created=created,
        )
    if dispatch["channel"] == "email" and copy["html"]:
        # The HTML part as sent: the stored copy in UTF-8, byte for byte (a whole
        # document since copies carry their language and direction).
        return letters.EmbeddedFile(
            name=f"email-dispatch-{dispatch['id']}.html",
            content=copy["html"].encode(),
            description=gettext("Email as sent"),
            created=created,
        )
    return None


def _email_shown(html: str) -> SafeString:
    """Return a stored email's body HTML as the pack shows it (no title, no head)."""
    body = emails.email_body(html)
    return mark_safe(_EMAIL_SHOWN.clean(body))  # noqa: S308 (sanitised by nh3)


def evidence_pdf(bundle: dict) -> bytes:
    """Render the bundle as a PDF in the active language (right to left in Arabic)."""
    language = translation.get_language() or "en"
    language = "ar" if language.startswith("ar") else "en"
    dispatches, files = [], []
    for dispatch in bundle["dispatches"]:
        attached = _copy_file(dispatch)
        shown = {}
        if dispatch["channel"] == "email" and dispatch["copy"]["html"]:
            shown["email_html"] = _email_shown(dispatch["copy"]["html"])
            shown["outside_images"] = _outside_images(shown["email_html"])
        if attached:
            files.append(attached)
            shown["attached"] = {
                "name": attached.name,
                "sha256": hashlib.sha256(attached.content).hexdigest(),
            }
        template = dispatch["template"]
        shown["template_name"] = (
            template.get("name_ar") if language == "ar" else ""
        ) or template["name"]
        if dispatch["category_approval"]:
            code = dispatch["category_approval"]["category"]
            shown["category_name"] = category_names().get(code, code)
        dispatches.append({**dispatch, "shown": shown})
    # A copy of the bundle: the JSON download never carries "shown".
    body = render_to_string(
        "console/evidence_pdf.html", {"bundle": {**bundle, "dispatches": dispatches}}
    )
    return letters.letter_pdf(
        body,
        language=language,
        css=EVIDENCE_CSS,
        title="Evidence pack",
        attachments=files,
    ).pdf
