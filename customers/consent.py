"""The consent decision: may this customer be sent this category on this channel?

One function decides, for the trigger path, the send-time check of the outbox
claim, an agent's resend and the rules' dry run alike; bulk callers load the
ledgers and suppressions once (`consent_ledgers`, `suppressions_of`).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from customers import reasons
from customers.models import Customer, PreferenceEntry, Suppression


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
