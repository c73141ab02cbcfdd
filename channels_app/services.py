"""Every write of channels_app: one function per change, audited."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import phonenumbers
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import event_record
from channels_app import reasons
from channels_app.lifecycle import (
    DispatchStateError,
    dispatch_locked,
    dispatch_move,
)
from channels_app.models import (
    Customer,
    Dispatch,
    PreferenceEntry,
    Suppression,
)
from channels_app.tasks import outbox_kick

CUSTOMER_FIELDS = ("name", "language", "time_zone", "email", "phone", "postal_address")


def phone_normalise(raw: str, *, region: str = "SA") -> str:
    """Return the E.164 form of a phone number, or raise naming the problem.

    Numbers without a country code are read in `region` (the organisation's
    home country).
    """
    if not raw.strip():
        return ""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            {"phone": f"{raw!r} is not a phone number: {exc}"}
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError({"phone": f"{raw!r} is not a valid phone number"})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@transaction.atomic
def customer_upsert(
    *,
    external_id: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    **fields: str,
) -> tuple[Customer, bool]:
    """Create or update a customer by external id; return it and whether it is new."""
    unknown = set(fields) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "unknown customer field"))
    if "phone" in fields:
        fields["phone"] = phone_normalise(fields["phone"] or "")
    customer = (
        Customer.objects.select_for_update().filter(external_id=external_id).first()
    )
    created = customer is None
    if created:
        customer = Customer(external_id=external_id)
    before = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
    for name, value in fields.items():
        setattr(customer, name, value)
    customer.full_clean()
    after = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
    if not created and before == after:
        return customer, False
    customer._change_reason = "created" if created else "updated"
    if created:
        customer.save()
    else:
        customer.save(update_fields=[*fields, "updated"])
    event_record(
        action="channels.customer.created" if created else "channels.customer.updated",
        actor=actor,
        actor_label=actor_label,
        subject=customer,
        before=None if created else before,
        after=after,
    )
    return customer, created


@transaction.atomic
def preference_set(
    *,
    customer: Customer,
    channel: str,
    opted_in: bool,
    source: str,
    legal_basis: str,
    category: str = "",
    scope: str = "",
    actor: AbstractBaseUser | None = None,
    note: str = "",
) -> PreferenceEntry:
    """Record a preference or consent instruction in the ledger."""
    entry = PreferenceEntry(
        customer=customer,
        channel=channel,
        category=category,
        scope=scope,
        opted_in=opted_in,
        source=source,
        legal_basis=legal_basis,
        recorded_at=timezone.now(),
        recorded_by=actor,
        note=note,
    )
    entry.full_clean()
    entry._change_reason = f"preference set by {source}"
    entry.save()
    event_record(
        action="channels.preference.set",
        actor=actor,
        subject=customer,
        after={
            "channel": channel,
            "category": category,
            "scope": scope,
            "opted_in": opted_in,
            "source": source,
            "legal_basis": legal_basis,
        },
        reason=note,
    )
    return entry


@transaction.atomic
def suppression_add(
    *, channel: str, address: str, reason: str, detail: str = ""
) -> Suppression:
    """Suppress an address on a channel for good (idempotent)."""
    suppression, created = Suppression.objects.get_or_create(
        channel=channel, address=address, defaults={"reason": reason, "detail": detail}
    )
    if created:
        event_record(
            action="channels.address.suppressed",
            subject=suppression,
            after={"channel": channel, "address": address, "reason": reason},
            reason=detail,
        )
    return suppression


@dataclass(frozen=True)
class ConsentDecision:
    allowed: bool
    reason: str
    hard: bool = False
    # What decided it, when a record did: the ledger entry or the suppression.
    entry_id: int | None = None
    suppression_id: int | None = None

    def reference(self) -> dict[str, int]:
        """Return the record that decided, as stored with a refusal."""
        if self.suppression_id:
            return {"suppression": self.suppression_id}
        if self.entry_id:
            return {"ledger_entry": self.entry_id}
        return {}


def consent_ledgers(customer_ids: Iterable[int]) -> dict[int, list[PreferenceEntry]]:
    """Return each customer's preference ledger, newest first, in one query."""
    ledgers: dict[int, list[PreferenceEntry]] = defaultdict(list)
    for entry in PreferenceEntry.objects.filter(
        customer_id__in=sorted(set(customer_ids))
    ).order_by("customer_id", "-recorded_at", "-id"):
        ledgers[entry.customer_id].append(entry)
    return ledgers


def suppressions_of(addresses: Iterable[str]) -> dict[tuple[str, str], int]:
    """Return the suppression id of each suppressed (channel, address), one query."""
    return {
        (channel, address): pk
        for pk, channel, address in Suppression.objects.filter(
            address__in=sorted(set(addresses))
        ).values_list("id", "channel", "address")
    }


def consent_decide(
    *,
    customer: Customer | None,
    channel: str,
    category: str,
    scope: str = "",
    mandatory: bool = False,
    requires_opt_in: bool = False,
    preferences: list[PreferenceEntry] | None = None,
    suppressed: Mapping[tuple[str, str], int] | set[tuple[str, str]] | None = None,
    address: str | None = None,
) -> ConsentDecision:
    """Decide whether a customer may be sent a category on a channel, and why.

    Order: no contact point or a hard suppression stops everything; then the
    newest ledger entry covering (channel, category, scope) decides, where a
    blank category or scope, or channel "any", covers all; a mandatory category
    overrides an opt-out; with no entry, only categories that require opt-in
    (marketing) are refused. `preferences` and `suppressed` (from
    `consent_ledgers` and `suppressions_of`) let bulk callers pass what they
    already loaded; `address` is the one a queued dispatch will use (default:
    the customer's contact point now). With both given, `customer` is not read.
    """
    if address is None:
        address = customer.address_for(channel)
    if not address:
        return ConsentDecision(
            False, reasons.NO_CONTACT_POINT.text(channel=channel), hard=True
        )
    if suppressed is None:
        suppressed = suppressions_of([address])
    if (channel, address) in suppressed:
        return ConsentDecision(
            False,
            reasons.ADDRESS_SUPPRESSED.text(address=address, channel=channel),
            True,
            suppression_id=(
                suppressed[(channel, address)]
                if isinstance(suppressed, Mapping)
                else None
            ),
        )

    if preferences is None:
        preferences = list(customer.preferences.order_by("-recorded_at", "-id"))
    covering = next(
        (
            entry
            for entry in preferences
            if entry.channel in (channel, PreferenceEntry.ANY_CHANNEL)
            and entry.category in (category, "")
            and entry.scope in (scope, "")
        ),
        None,
    )
    entry_id = covering.pk if covering is not None else None
    if covering is not None and not covering.opted_in:
        where = (
            reasons.FOR_SCOPE.text(scope=covering.scope)
            if covering.scope
            else reasons.CUSTOMER_WIDE.text()
        )
        if mandatory:
            return ConsentDecision(
                True, reasons.MANDATORY_OVERRIDES.text(where=where), entry_id=entry_id
            )
        return ConsentDecision(
            False,
            reasons.OPTED_OUT.text(channel=covering.channel, where=where),
            entry_id=entry_id,
        )
    if covering is None and requires_opt_in and not mandatory:
        return ConsentDecision(False, reasons.NO_OPT_IN.text(category=category))
    return ConsentDecision(
        True,
        (reasons.OPTED_IN if covering else reasons.NO_OBJECTION).text(),
        entry_id=entry_id,
    )


def _reason_check(reason: str) -> None:
    if not reason.strip():
        raise DispatchStateError("a reason is required")


@transaction.atomic
def dispatch_retry(*, dispatch: Dispatch, actor: AbstractBaseUser, reason: str):
    """Queue a failed dispatch again (an operator's decision)."""
    _reason_check(reason)
    locked = dispatch_locked(dispatch)
    moved = dispatch_move(
        locked=locked,
        to=Dispatch.Status.QUEUED,
        actor=actor,
        reason=reason,
        action="channels.dispatch.retried",
        # A retry gets a fresh allowance of attempts.
        changes={
            "due_at": timezone.now(),
            "max_attempts": locked.attempt_count + 5,
        },
    )
    transaction.on_commit(outbox_kick)
    return moved


@transaction.atomic
def dispatch_cancel(*, dispatch: Dispatch, actor: AbstractBaseUser, reason: str):
    """Cancel a dispatch that has not been sent yet."""
    _reason_check(reason)
    return dispatch_move(
        locked=dispatch_locked(dispatch),
        to=Dispatch.Status.CANCELLED,
        actor=actor,
        reason=reason,
        action="channels.dispatch.cancelled",
    )


RECEIPT_STATUSES = {
    "delivered": Dispatch.Status.DELIVERED,
    "bounced": Dispatch.Status.BOUNCED,
    "failed": Dispatch.Status.FAILED,
}


@transaction.atomic
def dispatch_receipt_record(
    *,
    dispatch: Dispatch,
    event: str,
    hard: bool = False,
    detail: str = "",
    provider: str,
) -> Dispatch:
    """Apply a provider's delivery receipt; a hard bounce suppresses the address.

    A receipt that repeats the current status is acknowledged and ignored, so
    providers may redeliver webhooks safely.
    """
    if event not in RECEIPT_STATUSES:
        raise DispatchStateError(
            f"unknown receipt event {event!r}: use {', '.join(RECEIPT_STATUSES)}"
        )
    to = RECEIPT_STATUSES[event]
    locked = dispatch_locked(dispatch)
    if locked.status == to:
        return locked
    dispatch_move(
        locked=locked,
        to=to,
        action=f"channels.dispatch.{event}",
        actor_label=provider,
        detail=f"{provider}: {detail}".strip(": "),
        changes={} if to == Dispatch.Status.DELIVERED else {"error": detail or event},
        after={"hard": hard, "detail": detail},
    )
    if event == "bounced" and hard:
        suppression_add(
            channel=locked.channel,
            address=locked.address,
            reason=Suppression.Reason.HARD_BOUNCE,
            detail=f"dispatch #{locked.pk}: {detail}",
        )
    return locked
