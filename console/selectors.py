"""Reads of the contact-center console: search, timeline, dispatch detail, evidence.

Every query here is shaped for 1M customers and 10M dispatches: search goes
through an exact E.164 match or trigram indexes (PostgreSQL, see
`console.indexes`), the timeline walks the (customer, -created) index of
communications and joins dispatches by their communication.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import (
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.sealing import Unsealer
from ccm.statements import Marker, statement
from channels_app.models import Channel, Communication, Dispatch, InboundMessage
from customers.models import Customer, PreferenceEntry, Suppression
from customers.services import phone_normalise
from templates_app.models import Approval, TemplateVersion
from templates_app.selectors import category_names

SEARCH_LIMIT = 25
# What a search result shows of each customer.
SHOWN = ("id", "external_id", "name", "email", "phone", "language")
# Below this many characters a substring cannot use a trigram index.
MIN_SUBSTRING = 3
PHONE_LIKE = re.compile(r"^[\d\s+()./-]+$")
# Numbers typed without a country code are read as Saudi (as phone_normalise).
HOME_COUNTRY_CODE = "966"


@dataclass(frozen=True)
class SearchResult:
    # Each match as the results list shows it: id, external_id, name, email,
    # phone and language (plain values; a model instance each cost more).
    customers: list[dict]
    more: bool
    phone: str = ""


def phone_digits(raw: str) -> str:
    """Return the digits an agent typed, without an international or trunk prefix.

    "00966 50 123" and "+966 50 123" give "96650123"; "050 123" gives "50123",
    so a trunk zero never stops a partial number from matching the E.164 form.
    """
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("00"):
        return digits[2:]
    return digits.lstrip("0")


def customers_search(query: str, *, limit: int = SEARCH_LIMIT) -> SearchResult:
    """Return customers matching an external id, name, email or phone.

    An exact external id, email or phone number (spaces, "+", "00" and a
    trunk zero allowed) is looked up first, on unique or B-tree indexes. Else
    a partial phone number matches the start of the national number or the
    end of the whole number (bare digits also the end of an external id); an
    email fragment with "@" the start of an email; other text (from 3
    characters) a substring of the name, email or external id,
    case-insensitively (names starting with a text that has a space first).

    Each shape of statement is compiled once per process (`ccm.statements`):
    the key names what changes the SQL, the values are the agent's text.
    """
    query = " ".join(query.split())
    if not query:
        return SearchResult([], False)
    phone_like = bool(PHONE_LIKE.match(query)) and sum(c.isdigit() for c in query) >= 4
    phone = ""
    if phone_like:
        try:
            phone = phone_normalise(query)
        except ValidationError:
            phone = ""
    email = "@" in query
    exact = {"query": query} | ({"phone": phone} if phone else {})
    rows = _customers_first(("exact", bool(phone), email), _exact, limit, **exact)
    if rows:
        return SearchResult(rows[:limit], len(rows) > limit, phone)

    if phone_like:
        digits = phone_digits(query)
        by_phone = len(digits) >= MIN_SUBSTRING
        by_id = query.isdigit()
        if not (by_phone or by_id):
            return SearchResult([], False, phone)
        values = {"reversed_query": query[::-1]} if by_id else {}
        if by_phone:
            values |= {
                "national": f"+{HOME_COUNTRY_CODE}{digits}",
                "international": f"+{digits}",
                "reversed_digits": digits[::-1],
            }
        rows = _customers_first(("digits", by_phone, by_id), _digits, limit, **values)
    elif email:
        rows = _customers_first(("email",), _email_start, limit, query=query)
    elif " " in query:
        # Emails and external ids have no spaces: only a name can match. A
        # full name is usually typed from its start, and a common one has
        # more such matches than a page: those come from a B-tree prefix index
        # without gathering every substring match from the trigram index.
        rows = _customers_first(("name start",), _name_start, limit, query=query)
        if len(rows) <= limit:
            rows = _customers_first(("name",), _name_within, limit, query=query)
    elif len(query) >= MIN_SUBSTRING:
        rows = _customers_first(("within",), _within, limit, query=query)
    else:
        return SearchResult([], False, phone)
    return SearchResult(rows[:limit], len(rows) > limit, phone)


# The search's statements, one per shape: `key` names the flags each reads,
# the values (only those its shape uses) come from the agent's text.
def _exact(key, query, phone=None) -> QuerySet:
    _shape, by_phone, by_email = key
    exact = Q(external_id=query)
    if by_phone:
        exact |= Q(phone=phone)
    if by_email:
        exact |= Q(email__iexact=query)
    return Customer.objects.filter(exact)


def _digits(key, **values) -> QuerySet:
    _shape, by_phone, by_id = key
    customers, condition = Customer.objects.all(), Q()
    if by_phone:
        customers = customers.annotate(phone_reversed=Reverse("phone"))
        condition = (
            Q(phone__startswith=values["national"])
            | Q(phone__startswith=values["international"])
            | Q(phone_reversed__startswith=values["reversed_digits"])
        )
    if by_id:
        customers = customers.annotate(external_id_reversed=Reverse("external_id"))
        condition |= Q(external_id_reversed__startswith=values["reversed_query"])
    return customers.filter(condition)


def _email_start(_key, query) -> QuerySet:
    return Customer.objects.filter(email__istartswith=query)


def _name_start(_key, query) -> QuerySet:
    return Customer.objects.filter(name__istartswith=query)


def _name_within(_key, query) -> QuerySet:
    return Customer.objects.filter(name__icontains=query)


def _within(_key, query) -> QuerySet:
    return Customer.objects.filter(
        Q(name__icontains=query)
        | Q(email__icontains=query)
        | Q(external_id__icontains=query)
    )


def _customers_first(key: tuple, build, limit: int, **values: str) -> list[dict]:
    """Return up to limit + 1 matches of `build`'s statement, sorted by name.

    No ORDER BY in SQL: sorting every match of a common name costs more than
    the page; the first matches found are shown and the agent narrows down.
    """
    made = statement(
        ("console.search", *key, limit),
        lambda **stand_ins: build(key, **stand_ins).values(*SHOWN)[: limit + 1],
        *(Marker(name, str) for name in values),
    )
    rows = made.rows(**values)
    rows.sort(key=lambda row: (row["name"].casefold(), row["id"]))
    return rows


@dataclass(frozen=True)
class TimelineFilter:
    channel: str = ""
    status: str = ""
    template: str = ""
    since: date | None = None
    until: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# What a timeline row shows. Read as plain values: building a dispatch, its
# communication and its template version for each row cost more than the query.
TIMELINE_FIELDS = (
    "pk",
    "channel",
    "subject",
    "address",
    "status",
    "resend_of_id",
    "rule_decisions",
    "decision",
    "created",
    "communication__created",
    "communication__reissue_of_id",
    "content_erased_at",
    "communication__template_code",
    "communication__template_version__template__name",
    "communication__template_version__template__name_ar",
    "communication__template_version__number",
)


def timeline(customer: Customer, filters: TimelineFilter | None = None) -> QuerySet:
    """Return every dispatch to a customer on every channel, newest first.

    Rows are dicts of `TIMELINE_FIELDS`.
    """
    return (
        _timeline_filtered(customer, filters or TimelineFilter())
        .order_by("-communication__created", "-pk")
        .values(*TIMELINE_FIELDS)
    )


def _timeline_filtered(customer: Customer, filters: TimelineFilter) -> QuerySet:
    dispatches = Dispatch.objects.filter(communication__customer=customer)
    if filters.channel:
        dispatches = dispatches.filter(channel=filters.channel)
    if filters.status:
        dispatches = dispatches.filter(status=filters.status)
    if filters.template:
        dispatches = dispatches.filter(communication__template_code=filters.template)
    if filters.since:
        dispatches = dispatches.filter(
            communication__created__gte=_day_start(filters.since)
        )
    if filters.until:
        dispatches = dispatches.filter(
            communication__created__lt=_day_start(filters.until + timedelta(days=1))
        )
    return dispatches


# Older than anything stored: the bound of a timeline shorter than its page.
TIMELINE_FLOOR = datetime(1, 1, 1, tzinfo=UTC)


def timeline_rows(
    customer: Customer, filters: TimelineFilter, start: int, count: int
) -> list[dict]:
    """Return rows `start` to `start + count` of a customer's timeline.

    Sorting all of a long-lived customer's dispatches to show the newest 25
    costs more than the page (a thousand rows read and sorted for 26). So the
    statement first finds the time of the last row of the page (walking the
    (customer, created) index of communications, newest first, and stopping
    there) and reads only the rows from that time on: every row of the page,
    and only a few more. Without a date filter, the statement is compiled
    once per process and shape (`ccm.statements`).
    """
    if filters.since or filters.until:
        return list(_timeline_bounded(customer, filters, start, count))
    present = tuple(
        name for name in ("channel", "status", "template") if getattr(filters, name)
    )
    made = statement(
        ("console.timeline_rows", present, start, count),
        lambda customer, **values: _timeline_bounded(
            customer, TimelineFilter(**values), start, count
        ),
        Marker("customer"),
        *(Marker(name, str) for name in present),
    )
    return made.rows(
        customer=customer.pk, **{name: getattr(filters, name) for name in present}
    )


def _timeline_bounded(
    customer: Customer | int, filters: TimelineFilter, start: int, count: int
) -> QuerySet:
    last = (
        _timeline_filtered(customer, filters)
        .order_by("-communication__created")
        .values("communication__created")[start + count - 1 : start + count]
    )
    bound = Coalesce(
        Subquery(last), Value(TIMELINE_FLOOR, output_field=DateTimeField())
    )
    return (
        timeline(customer, filters)
        .alias(timeline_bound=bound)
        .filter(communication__created__gte=F("timeline_bound"))[start : start + count]
    )


def customers_with_lists() -> QuerySet:
    """Return customers flagged with which of their page's side lists have rows.

    `has_preferences`, `has_inbound_messages` and `has_suppressions` come in
    the customer's own statement, so the page skips reading the lists that are
    empty: most customers have none of the three.
    """
    return Customer.objects.annotate(
        has_preferences=Exists(PreferenceEntry.objects.filter(customer=OuterRef("pk"))),
        has_inbound_messages=Exists(
            InboundMessage.objects.filter(customers=OuterRef("pk"))
        ),
        has_suppressions=Exists(
            Suppression.objects.filter(
                Q(channel=Channel.EMAIL, address=OuterRef("email"))
                | Q(channel=Channel.SMS, address=OuterRef("phone"))
                | Q(channel=Channel.LETTER, address=OuterRef("postal_address"))
            )
        ),
    )


def customer_with_lists(pk: int) -> Customer | None:
    """Return one customer of `customers_with_lists`, or None."""
    made = statement(
        ("console.customer_with_lists",),
        lambda pk: customers_with_lists().filter(pk=pk),
        Marker("pk"),
    )
    return made.instance(pk=pk)


def template_codes_for(customer: Customer) -> list[str]:
    """Return the template codes a customer was ever sent, for the filter."""
    # DISTINCT on (customer, template_code, ...) reads the sequencing index only.
    made = statement(
        ("console.template_codes_for",),
        lambda customer: (
            Communication.objects.filter(customer=customer)
            .order_by("template_code")
            .values("template_code")
            .distinct()
        ),
        Marker("customer"),
    )
    return [row["template_code"] for row in made.rows(customer=customer.pk)]


def preferences_for(customer: Customer) -> list[PreferenceEntry]:
    """Return the customer's preference ledger, newest first, with who recorded it.

    Each entry carries `category_shown`: the category's name in the reader's
    language (the ledger stores the code), or "" for every category.
    """
    entries = list(
        customer.preferences.select_related("recorded_by").order_by(
            "-recorded_at", "-id"
        )
    )
    names = category_names() if any(entry.category for entry in entries) else {}
    for entry in entries:
        entry.category_shown = names.get(entry.category, entry.category)
    return entries


def inbound_messages_for(customer: Customer, limit: int = 20) -> list:
    """Return the newest messages the customer sent us (SMS replies)."""
    return list(customer.inbound_messages.order_by("-received_at", "-id")[:limit])


def suppressions_for(customer: Customer) -> list[Suppression]:
    """Return the hard suppressions of the customer's current addresses."""
    addresses = Q()
    for channel, address in (
        ("email", customer.email),
        ("sms", customer.phone),
        ("letter", customer.postal_address),
    ):
        if address:
            addresses |= Q(channel=channel, address=address)
    if not addresses:
        return []
    return list(Suppression.objects.filter(addresses).order_by("channel"))


def _dispatches_detailed() -> QuerySet:
    """Return dispatches with everything their page and evidence show."""
    return Dispatch.objects.select_related(
        "communication__customer",
        "communication__template_version__template__category",
        "communication__template_version__category",
        "communication__template_version__author",
        "communication__requested_by",
        "communication__reissue_of",
        "resend_of",
    ).prefetch_related(
        "attempts",
        "status_changes",
        "resends",
        "escalations",
        Prefetch(
            "communication__template_version__approvals",
            queryset=Approval.objects.select_related("reviewer").order_by("at", "pk"),
        ),
    )


def dispatch_detail(pk: int) -> Dispatch:
    """Return one dispatch with everything its page shows."""
    return _dispatches_detailed().get(pk=pk)


def approvals_for(version: TemplateVersion) -> list[Approval]:
    """Return who approved a template version and when, oldest first.

    A version read by `dispatch_detail` has them already, in that order.
    """
    return sorted(
        version.approvals.all(), key=lambda approval: (approval.at, approval.pk)
    )


def audit_events_for(dispatches: list[Dispatch]) -> list[AuditEvent]:
    """Return the audit events about these dispatches and their communications."""
    from django.contrib.contenttypes.models import ContentType

    if not dispatches:
        return []
    dispatch_type = ContentType.objects.get_for_model(Dispatch)
    communication_type = ContentType.objects.get_for_model(Communication)
    condition = Q(
        content_type=dispatch_type,
        object_id__in=[str(dispatch.pk) for dispatch in dispatches],
    ) | Q(
        content_type=communication_type,
        object_id__in=list({str(d.communication_id) for d in dispatches}),
    )
    events = list(AuditEvent.objects.filter(condition).order_by("sequence"))
    unsealer = Unsealer.for_events(events)
    for event in events:
        # Personal parts read back while the customer's key lives, else
        # "erased on <date>" (audit.sealing).
        event.readable = unsealer.event(event)
    return events


def evidence_dispatches(
    *, customer: Customer, since: date | None, until: date | None, limit: int
) -> list[Dispatch] | None:
    """Return a customer's dispatches in a date range, oldest first, for evidence.

    None when there are more than `limit`: counted on ids before any is loaded.
    """
    dispatches = timeline(customer, TimelineFilter(since=since, until=until))
    ids = list(dispatches.values_list("pk", flat=True)[: limit + 1])
    if len(ids) > limit:
        return None
    return list(
        _dispatches_detailed()
        .filter(pk__in=ids)
        .order_by("communication__created", "pk")
    )
