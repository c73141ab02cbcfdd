"""Erase a customer's personal data on their request, everywhere it lives.

One service, `customer_erase`. What goes: the customer record and its row
history, contact points, the content of their dispatches (copies, PDFs and
their print copies, addresses, data snapshots and batch rows: the retention
app's eraser), what agents typed about them (feedback, complaint
escalations, reissue reasons, preference notes), their inbound messages,
suppressions of their addresses, admin log labels, and the personal parts of
their audit events (their audit key is destroyed: `audit.sealing`). The
records stay: dates, statuses, template versions, hashes, the audit chain.

What a legal hold or a retention duty covers stays, and the request lists it
with the reason:

- a hold on the customer keeps everything: nothing is erased;
- a hold on a template version, category or date range keeps the dispatches
  it covers (and what agents wrote about them);
- a mandatory (regulatory) notice is kept while its category's retention
  class still keeps copies (the record-keeping duty);
- while anything of theirs is kept, so is their audit key, since the kept
  dispatches' audit events are sealed under it;
- audit events recorded before sealing existed stay as written.
"""

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent, DataSubjectKey
from audit.sealing import address_owners, key_destroy
from audit.services import event_record
from channels_app.intake import intakes_erased_refuse
from channels_app.models import (
    Communication,
    Dispatch,
    ErasureCause,
    Escalation,
    InboundMessage,
)
from channels_app.services import dispatch_cancel
from console.models import Feedback
from customers.apps import customer_owner
from customers.models import Customer, PreferenceEntry, Suppression
from retention.erasure import ERASED_MARK, dispatches_content_erase
from retention.holds import customer_holds, dispatches_held
from retention.models import LegalHold, RetentionClass
from subject_rights.models import ErasureRequest

Scope = LegalHold.Scope


def dispatches_under_duty(dispatches: QuerySet) -> QuerySet:
    """Return the mandatory notices among `dispatches` their category must keep.

    A regulatory notice is kept while its category's retention class (or the
    default class) still keeps stored copies.
    """
    mandatory = dispatches.filter(communication__mandatory=True)
    classes = {
        retention.category.code if retention.category else None: retention
        for retention in RetentionClass.objects.select_related("category")
    }
    default = classes.get(None)
    now = timezone.now()
    kept = Q(pk__in=[])
    for code in set(mandatory.values_list("communication__category", flat=True)):
        retention = classes.get(code, default)
        days = retention.copies_days if retention is not None else None
        in_category = Q(communication__category=code)
        if days is None:
            kept |= in_category
        else:
            kept |= in_category & Q(created__gte=now - timedelta(days=days))
    return mandatory.filter(kept)


def customer_erase(
    *,
    customer: Customer,
    actor: AbstractBaseUser,
    reason: str,
    reference: str,
    source: str = ErasureRequest.Source.ADMIN,
    actor_label: str = "",
) -> ErasureRequest:
    """Erase a customer's personal data except what a hold or duty keeps.

    The dispatches' content goes in the retention eraser's short chunked
    transactions; everything else, and the request, in one transaction.
    """
    if not actor.has_perm("subject_rights.add_erasurerequest"):
        raise PermissionDenied(_("You may not erase a customer's personal data."))
    reason, reference = reason.strip(), reference.strip()
    problems = {}
    if not reason:
        problems["reason"] = _("Say why the data is erased.")
    if not reference:
        problems["reference"] = _("Give the request's reference.")
    if problems:
        raise ValidationError(problems)
    if customer.erasure_requests.filter(status=ErasureRequest.Status.ERASED).exists():
        raise ValidationError(
            _("This customer's personal data was already erased on %(date)s.")
            % {"date": customer.erased_at.date().isoformat()}
        )
    holds = customer_holds(customer)
    kept: list[dict] = []
    for hold in holds:
        kept.append(_hold_kept(hold, customer))
    if any(hold.scope == Scope.CUSTOMER for hold in holds):
        return _request_record(
            customer=customer,
            actor=actor,
            actor_label=actor_label,
            reason=reason,
            reference=reference,
            source=source,
            status=ErasureRequest.Status.KEPT,
            erased={},
            kept=kept,
        )
    theirs = Dispatch.objects.filter(communication__customer=customer)
    held_ids = set(dispatches_held(theirs, holds).values_list("pk", flat=True))
    duty_ids = set(
        dispatches_under_duty(theirs)
        .exclude(pk__in=held_ids)
        .values_list("pk", flat=True)
    )
    if duty_ids:
        kept.append(
            {
                "what": "dispatches",
                "count": len(duty_ids),
                "why": "retention duty: mandatory notices their category keeps",
                "reference": "",
            }
        )
    keep_ids = held_ids | duty_ids
    _pending_cancel(theirs.exclude(pk__in=keep_ids), actor=actor, reference=reference)
    counted = dispatches_content_erase(
        theirs.exclude(pk__in=keep_ids),
        cause=ErasureCause.REQUEST,
        actor=actor,
        actor_label=actor_label,
        reason=_("erasure request %(reference)s") % {"reference": reference},
        holds=holds,
    )
    if counted.busy:
        kept.append(
            {
                "what": "dispatches",
                "count": counted.busy,
                "why": "being sent at the time of the request: erase again",
                "reference": "",
            }
        )
    with transaction.atomic():
        erased = {"dispatches": counted.dispatches}
        erased.update(_agents_text_erase(customer, keep_ids))
        erased.update(_records_erase(customer))
        if keep_ids or counted.busy:
            kept.append(
                {
                    "what": "audit key",
                    "count": 1,
                    "why": "the kept dispatches' audit events are sealed under it",
                    "reference": "",
                }
            )
        else:
            erased["audit_keys"] = _keys_destroy(customer)
        plaintext = _events_before_sealing(customer)
        if plaintext:
            kept.append(
                {
                    "what": "audit events",
                    "count": plaintext,
                    "why": "recorded before sealing existed; the chain cannot change",
                    "reference": "",
                }
            )
        return _request_record(
            customer=customer,
            actor=actor,
            actor_label=actor_label,
            reason=reason,
            reference=reference,
            source=source,
            status=ErasureRequest.Status.PARTIAL
            if kept
            else ErasureRequest.Status.ERASED,
            erased=erased,
            kept=kept,
        )


def _hold_kept(hold: LegalHold, customer: Customer) -> dict:
    """Return the request's entry for what one hold keeps."""
    if hold.scope == Scope.CUSTOMER:
        return {
            "what": "everything",
            "count": 1,
            "why": f"legal hold on the customer: {hold.reason}",
            "reference": hold.reference,
        }
    covered = dispatches_held(
        Dispatch.objects.filter(communication__customer=customer), [hold]
    ).count()
    return {
        "what": "dispatches",
        "count": covered,
        "why": f"legal hold ({hold.get_scope_display()}): {hold.reason}",
        "reference": hold.reference,
    }


def _pending_cancel(dispatches: QuerySet, *, actor, reference: str) -> None:
    """Cancel what is still queued: nothing more goes to an erased customer."""
    for dispatch in dispatches.filter(status=Dispatch.Status.QUEUED):
        dispatch_cancel(
            dispatch=dispatch,
            actor=actor,
            reason=f"erasure request {reference}",
        )


def _agents_text_erase(customer: Customer, keep_ids: set[int]) -> dict[str, int]:
    """Erase what agents typed about the customer, except on kept dispatches."""
    feedback = Feedback.objects.filter(
        dispatch__communication__customer=customer
    ).exclude(dispatch_id__in=keep_ids)
    escalations = Escalation.objects.filter(
        dispatch__communication__customer=customer
    ).exclude(dispatch_id__in=keep_ids)
    communications = (
        Communication.objects.filter(customer=customer)
        .exclude(dispatches__in=keep_ids)
        .exclude(reason="")
    )
    return {
        "feedback": feedback.exclude(text=ERASED_MARK).update(text=ERASED_MARK),
        "escalations": escalations.exclude(reason=ERASED_MARK).update(
            reason=ERASED_MARK
        ),
        "reissue_reasons": communications.update(reason=""),
    }


def _records_erase(customer: Customer) -> dict[str, int]:
    """Erase the customer record, its history, preferences and what names them."""
    addresses = [a for a in (customer.email, customer.phone) if a]
    postal = customer.postal_address
    inbound = InboundMessage.objects.filter(
        Q(customers=customer) | Q(sender__in=addresses)
    ).distinct()
    counts = {
        # Queued API triggers would create the customer again from their copy.
        "queued_triggers": intakes_erased_refuse(external_id=customer.external_id),
        "embedded_mail": _embedded_mail_erase([customer.email]),
        "inbound_messages": InboundMessage.objects.filter(
            pk__in=list(inbound.values_list("pk", flat=True))
        ).update(sender="", text=ERASED_MARK),
        "suppressions": Suppression.objects.filter(
            address__in=[*addresses, postal] if postal else addresses
        ).delete()[0],
        "preferences": PreferenceEntry.objects.filter(customer=customer).update(
            note="", user_agent=""
        ),
    }
    PreferenceEntry.history.filter(customer_id=customer.pk).update(
        note="", user_agent=""
    )
    blank = {
        "name": ERASED_MARK,
        "email": "",
        "phone": "",
        "postal_address": "",
        "external_id": f"erased-{customer.pk}",
        "erased_at": timezone.now(),
    }
    counts["customer_history"] = Customer.history.filter(id=customer.pk).update(**blank)
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
    ).update(object_repr=ERASED_MARK)
    customer._erased_addresses = [*addresses, postal]
    for name, value in blank.items():
        setattr(customer, name, value)
    customer._change_reason = "erased on request"
    customer.save(update_fields=[*blank, "updated"])
    counts["customer"] = 1
    return counts


MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def _embedded_mail_erase(addresses: list[str]) -> int:
    """Drop the messages to `addresses` from the embedded setup's mail files.

    Only the file email backend (the embedded default, `var/mail/`) keeps
    what was sent on disk; each file holds the messages of one connection,
    so the others in it stay. Return how many messages went.
    """
    if settings.EMAIL_BACKEND != "django.core.mail.backends.filebased.EmailBackend":
        return 0
    folder = Path(settings.EMAIL_FILE_PATH)
    wanted = [address.lower().encode() for address in addresses if address]
    if not wanted or not folder.is_dir():
        return 0
    dropped = 0
    for path in folder.glob("*.log"):
        messages = path.read_bytes().split(MAIL_SEPARATOR)
        kept = [m for m in messages if not any(w in m.lower() for w in wanted)]
        if len(kept) == len(messages):
            continue
        dropped += len(messages) - len(kept)
        if any(m.strip() for m in kept):
            path.write_bytes(MAIL_SEPARATOR.join(kept))
        else:
            path.unlink()
    return dropped


def _keys_destroy(customer: Customer) -> int:
    """Destroy the audit keys of the customer and of their addresses."""
    owners = [customer_owner(customer)]
    for address in getattr(customer, "_erased_addresses", []):
        if address:
            owners.extend(address_owners(address))
    for owner in owners:
        key_destroy(owner=owner)
    return len(owners)


def _events_before_sealing(customer: Customer) -> int:
    """Count the events about the customer recorded before they had a key."""
    first_key = (
        DataSubjectKey.objects.filter(owner=customer_owner(customer))
        .values_list("created", flat=True)
        .first()
    )
    events = AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
    )
    if first_key is not None:
        events = events.filter(created__lt=first_key)
    return events.count()


def _request_record(
    *,
    customer: Customer,
    actor: AbstractBaseUser,
    actor_label: str,
    reason: str,
    reference: str,
    source: str,
    status: str,
    erased: dict,
    kept: list[dict],
) -> ErasureRequest:
    """Store the request with what it erased and kept, and audit it."""
    with transaction.atomic():
        request = ErasureRequest.objects.create(
            customer=customer,
            reason=reason,
            reference=reference,
            source=source,
            requested_by=actor,
            requester_label=actor_label or actor.get_username(),
            status=status,
            erased=erased,
            kept=kept,
        )
        event_record(
            action="subject_rights.erasure.done",
            actor=actor,
            actor_label=actor_label,
            subject=request,
            after={
                "customer": customer.pk,
                "status": status,
                "erased": erased,
                "kept": kept,
            },
            reason=reason,
        )
    return request
