"""Every write about customers: their details, preferences and suppressions."""

from collections.abc import Sequence

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from audit.services import AuditEntry, event_record, events_record_bulk
from customers.models import (  # noqa: F401 (phone_normalise: callers' import)
    Customer,
    PreferenceEntry,
    Suppression,
    phone_normalise,
)

CUSTOMER_FIELDS = Customer.EDITABLE
# Ledger sources that are the customer's own instruction.
CUSTOMER_SOURCES = {PreferenceEntry.Source.CUSTOMER, PreferenceEntry.Source.SMS_REPLY}


@transaction.atomic
def customer_upsert(
    *,
    external_id: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    **fields: str,
) -> tuple[Customer, bool]:
    """Create or update a customer by external id; return it and whether it is new."""
    _fields_check(fields)
    customer = (
        Customer.objects.select_for_update().filter(external_id=external_id).first()
    )
    created = customer is None
    if created:
        customer = Customer(external_id=external_id)
    before = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
    for name, value in fields.items():
        setattr(customer, name, value)
    # The row was just looked up (and locked) by its external id, the only
    # unique field: a uniqueness query would find nothing new.
    customer.full_clean(validate_unique=False)
    after = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
    if not created and before == after:
        return customer, False
    customer._change_reason = "created" if created else "updated"
    if created:
        try:
            with transaction.atomic():  # a savepoint: the clash below undoes it
                customer.save()
        except IntegrityError:
            # Another request created this customer after our look-up (it was
            # new to both): its row now exists, so update it like any other.
            if not Customer.objects.filter(external_id=external_id).exists():
                raise
            return customer_upsert(
                external_id=external_id, actor=actor, actor_label=actor_label, **fields
            )
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


def _fields_check(fields: dict[str, str]) -> None:
    """Refuse unknown fields and normalise the phone number, in place."""
    unknown = set(fields) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "unknown customer field"))
    if "phone" in fields:
        fields["phone"] = phone_normalise(fields["phone"] or "")


@transaction.atomic
def customers_create_bulk(
    *,
    customers: Sequence[tuple[str, dict[str, str]]],
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> list[Customer | ValidationError]:
    """Create customers by external id and fields; return each one or why not.

    One insert for the rows, one for their history and one audit append,
    whatever their number: the new customers of a batch run. The caller has
    looked the external ids up; should another request create one of them
    meanwhile, every customer goes through `customer_upsert` one by one.
    """
    results: list[Customer | ValidationError] = []
    for external_id, given in customers:
        fields = dict(given)
        try:
            _fields_check(fields)
            customer = Customer(external_id=external_id, **fields)
            customer.full_clean(validate_unique=False)
        except ValidationError as exc:
            results.append(exc)
            continue
        results.append(customer)
    fresh = [c for c in results if isinstance(c, Customer)]
    try:
        with transaction.atomic():  # a savepoint: the clash below undoes it
            bulk_create_with_history(fresh, Customer, default_change_reason="created")
    except IntegrityError:
        return [
            result
            if isinstance(result, ValidationError)
            else _upsert_or_refusal(external_id, given, actor, actor_label)
            for (external_id, given), result in zip(customers, results, strict=True)
        ]
    events_record_bulk(
        entries=[
            AuditEntry(
                action="channels.customer.created",
                actor=actor,
                actor_label=actor_label,
                subject=customer,
                after={name: getattr(customer, name) for name in CUSTOMER_FIELDS},
            )
            for customer in fresh
        ]
    )
    return results


def _upsert_or_refusal(
    external_id: str,
    fields: dict[str, str],
    actor: AbstractBaseUser | None,
    actor_label: str,
) -> Customer | ValidationError:
    try:
        return customer_upsert(
            external_id=external_id, actor=actor, actor_label=actor_label, **fields
        )[0]
    except ValidationError as exc:
        return exc


def customers_locked(customers: QuerySet[Customer]) -> dict[int, str]:
    """Lock customers' rows in id order; return each one's time zone.

    FOR NO KEY UPDATE, in one order for every caller (a preference, a
    suppression, the rules and the outbox claim), so they take turns without
    deadlocking, and do not block the key-share locks of new communications.
    """
    return dict(
        customers.select_for_update(no_key=True)
        .order_by("id")
        .values_list("id", "time_zone")
    )


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
    actor_label: str = "",
    note: str = "",
    source_message: str = "",
    user_agent: str = "",
    source_system: str = "",
) -> PreferenceEntry:
    """Record a preference or consent instruction in the ledger.

    The customer's row is locked as the outbox claim locks it before it asks
    the ledger: a claim either sees this entry or finished before it. With
    no actor, the customer's own instructions (self-service, an SMS reply)
    are audited as the customer's, others as the system's.
    """
    customers_locked(Customer.objects.filter(pk=customer.pk))
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
        source_message=source_message,
        user_agent=user_agent[:400],
        source_system=source_system,
    )
    entry.full_clean()
    entry._change_reason = f"preference set by {source}"
    entry.save()
    event_record(
        action="channels.preference.set",
        actor=actor,
        actor_kind=(
            "customer" if actor is None and source in CUSTOMER_SOURCES else None
        ),
        actor_label=actor_label,
        subject=customer,
        after={
            "entry": entry.pk,
            "channel": channel,
            "category": category,
            "scope": scope,
            "opted_in": opted_in,
            "source": source,
            "legal_basis": legal_basis,
            **({"message": source_message} if source_message else {}),
            **({"user_agent": entry.user_agent} if user_agent else {}),
            **({"source_system": source_system} if source_system else {}),
        },
        reason=note,
    )
    return entry


@transaction.atomic
def suppression_add(
    *, channel: str, address: str, reason: str, detail: str = ""
) -> Suppression:
    """Suppress an address on a channel for good (idempotent).

    The customers using the address are locked first, as for a preference.
    """
    field = {"email": "email", "sms": "phone", "letter": "postal_address"}.get(channel)
    if field:
        customers_locked(Customer.objects.filter(**{field: address}))
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


def marketing_categories() -> list[str]:
    """Return the codes of the marketing categories, in order."""
    from templates_app.models import Category

    return list(
        Category.objects.filter(kind=Category.Kind.MARKETING)
        .order_by("code")
        .values_list("code", flat=True)
    )


@transaction.atomic
def marketing_opt_out(
    *,
    customer: Customer,
    channel: str,
    source: str,
    note: str = "",
    source_message: str = "",
    user_agent: str = "",
    actor_label: str = "",
) -> list[PreferenceEntry]:
    """Opt a customer out of every marketing category on a channel.

    One ledger entry per marketing category the customer is not already out
    of, so a repeated stop (a replayed SMS, a second complaint) adds nothing.
    Service and mandatory messages are untouched.
    """
    from customers.consent import consent_decide

    customers_locked(Customer.objects.filter(pk=customer.pk))
    ledger = list(customer.preferences.order_by("-recorded_at", "-id"))
    entries = []
    for category in marketing_categories():
        current = consent_decide(
            customer=customer,
            channel=channel,
            category=category,
            requires_opt_in=True,
            preferences=ledger,
            suppressed=set(),
            address="-",
        )
        covering = next((e for e in ledger if e.pk == current.entry_id), None)
        if covering is not None and not covering.opted_in:
            continue
        entries.append(
            preference_set(
                customer=customer,
                channel=channel,
                category=category,
                opted_in=False,
                source=source,
                legal_basis=PreferenceEntry.LegalBasis.CONSENT,
                note=note,
                source_message=source_message,
                user_agent=user_agent,
                actor_label=actor_label,
            )
        )
    return entries
