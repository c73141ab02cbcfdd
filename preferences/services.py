"""What the preference centre shows a customer, and the changes they make.

The centre reads the customer's preference ledger through the consent
decision (`consent_decide`), the same function the trigger and the outbox
claim ask, so what it shows is what will happen; each change is a new
ledger entry (source "customer", the message the link came from, the user
agent), audited by `preference_set`.
"""

from dataclasses import dataclass, field

from django.db import transaction

from customers.consent import consent_decide
from customers.links import Link
from customers.models import Customer, PreferenceEntry
from customers.services import customer_upsert, customers_locked, preference_set
from templates_app.models import Category, Channel

# How the customer's messages are written, which they may set themselves:
# the customer record's fields (their rules live on the model).
FORMAT_FIELDS = ("language", "digits", "calendar")

CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.LETTER)


@dataclass
class CentreState:
    """The customer's choices as they stand, in the centre's terms."""

    # [(category, {channel: receives})] for each marketing category.
    marketing: list[tuple[Category, dict[str, bool]]]
    paperless_all: bool
    # [(product, paperless)] for each product the customer has heard about.
    products: list[tuple[str, bool]]
    mandatory: list[Category] = field(default_factory=list)

    def marketing_any(self) -> bool:
        return any(any(chosen.values()) for _, chosen in self.marketing)


@dataclass
class Choices:
    """What the customer submitted."""

    marketing: dict[tuple[str, str], bool]
    no_marketing: bool
    paperless_all: bool
    products: dict[str, bool]
    # {field: value} for the FORMAT_FIELDS the form sent.
    formats: dict[str, str] = field(default_factory=dict)


@dataclass
class CentreChanges:
    """What one submission of the centre changed."""

    entries: list[PreferenceEntry]
    # {field: new value} of the customer's FORMAT_FIELDS that changed.
    formats: dict[str, str]

    def __bool__(self) -> bool:
        return bool(self.entries or self.formats)


def _allowed(ledger, *, channel: str, category: str = "", scope: str = "", **kw):
    return consent_decide(
        customer=None,
        channel=channel,
        category=category,
        scope=scope,
        preferences=ledger,
        suppressed=set(),
        address="-",
        **kw,
    ).allowed


def customer_products(customer: Customer) -> list[str]:
    """Return the products and accounts the customer's messages were about."""
    scopes = set(
        customer.communications.exclude(scope="").values_list("scope", flat=True)
    )
    scopes |= set(
        customer.preferences.exclude(scope="").values_list("scope", flat=True)
    )
    return sorted(scopes)


def centre_state(customer: Customer) -> CentreState:
    """Return the customer's marketing, paper and mandatory notices as they stand."""
    ledger = list(customer.preferences.order_by("-recorded_at", "-id"))
    categories = list(Category.objects.order_by("name"))
    marketing = [
        (
            category,
            {
                channel: _allowed(
                    ledger,
                    channel=channel,
                    category=category.code,
                    requires_opt_in=True,
                )
                for channel in CHANNELS
            },
        )
        for category in categories
        if category.kind == Category.Kind.MARKETING
    ]
    return CentreState(
        marketing=marketing,
        paperless_all=not _allowed(ledger, channel=Channel.LETTER),
        products=[
            (product, not _allowed(ledger, channel=Channel.LETTER, scope=product))
            for product in customer_products(customer)
        ],
        mandatory=[c for c in categories if c.kind == Category.Kind.MANDATORY],
    )


@transaction.atomic
def centre_apply(
    *, customer: Customer, link: Link, choices: Choices, user_agent: str
) -> CentreChanges:
    """Record what the customer changed in the centre; return what changed.

    Only differences from the state as it stands are written, so submitting
    the page unchanged (or twice) adds nothing to the ledger. A change of
    language, digits or calendar updates the customer record (audited by
    `customer_upsert`); a value the model refuses raises ValidationError.
    """
    customers_locked(Customer.objects.filter(pk=customer.pk))
    state = centre_state(customer)
    written: list[PreferenceEntry] = []

    def record(**instruction) -> None:
        written.append(
            preference_set(
                customer=customer,
                source=PreferenceEntry.Source.CUSTOMER,
                legal_basis=PreferenceEntry.LegalBasis.CONSENT,
                note="preference centre",
                source_message=str(link.message or ""),
                user_agent=user_agent,
                actor_label="customer (preference centre)",
                **instruction,
            )
        )

    for category, current in state.marketing:
        for channel, receives in current.items():
            wanted = (
                False
                if choices.no_marketing
                else choices.marketing.get((category.code, channel), False)
            )
            if wanted != receives:
                record(channel=channel, category=category.code, opted_in=wanted)

    if choices.paperless_all != state.paperless_all:
        record(channel=Channel.LETTER, opted_in=not choices.paperless_all)
    if not choices.paperless_all:
        state = centre_state(customer)
        for product, paperless in state.products:
            wanted = choices.products.get(product, False)
            if wanted != paperless:
                record(channel=Channel.LETTER, scope=product, opted_in=not wanted)

    customer.refresh_from_db(fields=list(FORMAT_FIELDS))
    formats = {
        name: value
        for name, value in choices.formats.items()
        if name in FORMAT_FIELDS and getattr(customer, name) != value
    }
    if formats:
        customer_upsert(
            external_id=customer.external_id,
            actor_label="customer (preference centre)",
            **formats,
        )
    return CentreChanges(entries=written, formats=formats)


class LinkRefused(Exception):
    """The link names no message of this customer that can be unsubscribed from."""


@transaction.atomic
def unsubscribe_one_click(*, link: Link, user_agent: str) -> PreferenceEntry | None:
    """Opt the customer out of the linked message's category on its channel.

    RFC 8058: a bare POST, no page, no cookies. Idempotent: when the newest
    entry covering the category and channel is already an opt-out, nothing
    is written and None is returned.
    """
    from channels_app.models import Communication

    communication = (
        Communication.objects.select_related("customer")
        .filter(public_id=link.message, customer_id=link.customer_id)
        .first()
        if link.message
        else None
    )
    if communication is None:
        raise LinkRefused("the link names no message")
    customer = communication.customer
    channel = link.channel or Channel.EMAIL
    customers_locked(Customer.objects.filter(pk=customer.pk))
    ledger = list(customer.preferences.order_by("-recorded_at", "-id"))
    decision = consent_decide(
        customer=None,
        channel=channel,
        category=communication.category,
        preferences=ledger,
        suppressed=set(),
        address="-",
    )
    covering = next((e for e in ledger if e.pk == decision.entry_id), None)
    if covering is not None and not covering.opted_in:
        return None
    return preference_set(
        customer=customer,
        channel=channel,
        category=communication.category,
        opted_in=False,
        source=PreferenceEntry.Source.CUSTOMER,
        legal_basis=PreferenceEntry.LegalBasis.CONSENT,
        note="one-click unsubscribe",
        source_message=str(link.message),
        user_agent=user_agent,
        actor_label="customer (one-click unsubscribe)",
    )
