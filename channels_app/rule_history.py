"""The customer history the central rules judge against, read from the outbox.

`rules` sits below the channels and never reads dispatches. The trigger path
and the claim (`channels_app.ruling`) load the history here and hand it to the
pure evaluator (`rules.evaluation.evaluate`); the rules' dry run reads it
through `rules.history`, to which the channels app registers this module.
Every loader is one query per chunk of 5,000 customers, so an evaluation of any
number of candidates costs a fixed number of queries.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from channels_app.models import Communication, Dispatch
from customers.models import Customer
from rules.evaluation import DUE, QUEUE, Candidate, Context, Counted, Superseder
from rules.models import Rule
from rules.selectors import cap_categories, chunks

Status = Dispatch.Status
# Gone, going or about to go: these count toward caps at the due recheck.
COUNTED_DUE = (Status.SENDING, Status.SENT, Status.DELIVERED, Status.BOUNCED)
# Before queueing, queued ones due inside the window count as well.
COUNTED_QUEUE = (*COUNTED_DUE, Status.QUEUED)
# A duplicate of anything not suppressed, cancelled or failed is not sent again.
NOT_DUPLICATED = (Status.SUPPRESSED, Status.CANCELLED, Status.FAILED)
PENDING = (Status.QUEUED, Status.SENDING)


def counted_history(
    *,
    customer_ids: Iterable[int],
    since: datetime,
    statuses: Sequence[str],
    kinds: dict[str, str],
    categories: set[str] | None = None,
) -> dict[int, list[Counted]]:
    """Return, per customer, the dispatches due after `since` that count toward caps.

    `categories` narrows the read to what some cap covers (None: everything).
    """
    counted: dict[int, list[Counted]] = defaultdict(list)
    if categories is not None and not categories:
        return counted
    for chunk in chunks(customer_ids):
        rows = Dispatch.objects.filter(
            communication__customer_id__in=chunk,
            status__in=statuses,
            due_at__gt=since,
        )
        if categories is not None:
            rows = rows.filter(communication__category__in=sorted(categories))
        rows = rows.values_list(
            "communication__customer_id", "due_at", "channel", "communication__category"
        )
        for customer_id, due_at, channel, category in rows:
            counted[customer_id].append(
                Counted(due_at, channel, category, kinds.get(category, ""))
            )
    return counted


def recent_dispatches(
    *, customer_ids: Iterable[int], templates: Iterable[str], since: datetime
) -> dict[tuple[int, str, str, str], list[datetime]]:
    """Return when dispatches that a duplicate would repeat were created, by key."""
    recent: dict[tuple[int, str, str, str], list[datetime]] = defaultdict(list)
    templates = sorted(set(templates))
    for chunk in chunks(customer_ids):
        rows = (
            Dispatch.objects.filter(
                communication__customer_id__in=chunk,
                communication__template_code__in=templates,
                created__gt=since,
            )
            .exclude(communication__correlation_key="")
            .exclude(status__in=NOT_DUPLICATED)
            .values_list(
                "communication__customer_id",
                "communication__template_code",
                "communication__correlation_key",
                "channel",
                "created",
            )
        )
        for customer_id, template, key, channel, created in rows:
            recent[(customer_id, template, key, channel)].append(created)
    return recent


def superseders_after(
    *, customer_ids: Iterable[int], after_communication_id: int
) -> dict[int, list[Superseder]]:
    """Return, per customer, communications newer than the given id that supersede."""
    found: dict[int, list[Superseder]] = defaultdict(list)
    for chunk in chunks(customer_ids):
        rows = (
            Communication.objects.filter(
                customer_id__in=chunk, id__gt=after_communication_id
            )
            .exclude(supersedes=[])
            .values_list(
                "id", "customer_id", "supersedes", "correlation_key", "template_code"
            )
        )
        for pk, customer_id, supersedes, key, template in rows:
            if supersedes:
                found[customer_id].append(
                    Superseder(pk, customer_id, tuple(supersedes), key, template)
                )
    return found


def pending_of_templates(
    *, customer_ids: Iterable[int], templates: Iterable[str]
) -> dict[tuple[int, str], list[tuple[int, str, datetime]]]:
    """Return pending (queued or sending) dispatches of the templates, by customer."""
    pending: dict[tuple[int, str], list[tuple[int, str, datetime]]] = defaultdict(list)
    templates = sorted(set(templates))
    for chunk in chunks(customer_ids):
        rows = Dispatch.objects.filter(
            communication__customer_id__in=chunk,
            communication__template_code__in=templates,
            status__in=PENDING,
        ).values_list(
            "communication_id",
            "communication__customer_id",
            "communication__template_code",
            "communication__correlation_key",
            "due_at",
        )
        for communication_id, customer_id, template, key, due_at in rows:
            pending[(customer_id, template)].append((communication_id, key, due_at))
    return pending


def context_load(
    *,
    candidates: Sequence[Candidate],
    stage: str,
    now: datetime,
    rules: list[Rule],
    revision: int,
    kinds: dict[str, str],
) -> Context:
    """Load what the rules need about these candidates' customers, in bulk."""
    context = Context(rules=rules, revision=revision)
    customer_ids = {c.customer_id for c in candidates}
    if not customer_ids:
        return context
    caps = [r for r in rules if r.kind == Rule.Kind.FREQUENCY_CAP]
    if caps:
        # Deferrals look ahead; what counts is read once for the widest window.
        widest = max(timedelta(hours=r.window_hours or 0) for r in caps)
        earliest = min(min(c.due_at for c in candidates), now)
        context.counted = counted_history(
            customer_ids=customer_ids,
            since=earliest - widest,
            statuses=(COUNTED_QUEUE if stage == QUEUE else COUNTED_DUE),
            kinds=kinds,
            categories=cap_categories(caps, kinds),
        )
    dedupes = [r for r in rules if r.kind == Rule.Kind.DEDUPE]
    keyed = [c for c in candidates if c.correlation_key]
    if stage == QUEUE and dedupes and keyed:
        widest = max(timedelta(hours=r.window_hours or 0) for r in dedupes)
        context.recent = recent_dispatches(
            customer_ids={c.customer_id for c in keyed},
            templates={c.template_code for c in keyed},
            since=now - widest,
        )
    waiting = [c for c in candidates if c.waits_for]
    if waiting:
        context.pending = pending_of_templates(
            customer_ids={c.customer_id for c in waiting},
            templates={t for c in waiting for t in c.waits_for},
        )
    if stage == DUE:
        context.superseders = superseders_after(
            customer_ids=customer_ids,
            after_communication_id=min(c.communication_id for c in candidates),
        )
    return context


def would_cancel(
    *, customer: Customer, supersedes: Sequence[str], correlation_key: str
) -> list[Dispatch]:
    """Return the queued dispatches a communication superseding these would cancel."""
    if not supersedes:
        return []
    rows = Dispatch.objects.filter(
        status=Status.QUEUED,
        communication__customer=customer,
        communication__template_code__in=list(supersedes),
    ).select_related("communication")
    if correlation_key:
        rows = rows.filter(communication__correlation_key=correlation_key)
    return list(rows.order_by("due_at", "id")[:100])
