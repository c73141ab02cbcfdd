"""Every read the rules make, each one query (per chunk of 5,000 customers).

The loaders return plain values keyed the way `rules.evaluation` looks them up,
so an evaluation of any number of candidates costs a fixed number of queries.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from channels_app.models import Communication, Dispatch
from rules.evaluation import Counted, Superseder
from rules.models import EVER_APPROVED, RuleVersion
from templates_app.models import Category

Status = Dispatch.Status
# Gone, going or about to go: these count toward caps at the due recheck.
COUNTED_DUE = (Status.SENDING, Status.SENT, Status.DELIVERED, Status.BOUNCED)
# Before queueing, queued ones due inside the window count as well.
COUNTED_QUEUE = (*COUNTED_DUE, Status.QUEUED)
# A duplicate of anything not suppressed, cancelled or failed is not sent again.
NOT_DUPLICATED = (Status.SUPPRESSED, Status.CANCELLED, Status.FAILED)
PENDING = (Status.QUEUED, Status.SENDING)
CHUNK = 5000


def chunks(values: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    """Yield sorted lists of at most `size` values (SQLite caps query parameters)."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def rules_in_force() -> list[RuleVersion]:
    """Return the approved, enabled rule versions, in a stable order.

    Each carries what the evaluation reads (name, version, kind, channel, ...).
    """
    return list(
        RuleVersion.objects.filter(status=RuleVersion.Status.APPROVED, enabled=True)
        .exclude(change=RuleVersion.Change.RETIRE)
        .select_related("rule")
        .order_by("kind", "rule__name", "id")
    )


def rules_with_proposal(proposal: RuleVersion) -> list[RuleVersion]:
    """Return the rules in force as they would be once `proposal` is approved."""
    rules = [rule for rule in rules_in_force() if rule.rule_id != proposal.rule_id]
    if proposal.enabled and proposal.change != RuleVersion.Change.RETIRE:
        rules.append(proposal)
    return sorted(rules, key=lambda rule: (rule.kind, rule.name, rule.pk))


def rule_set_revision() -> int:
    """Return a number that grows with every approved rule change (0: none yet)."""
    return RuleVersion.objects.filter(status__in=EVER_APPROVED).count()


def rule_versions_named(
    decisions: Iterable[tuple[str, int]],
) -> dict[tuple[str, int], RuleVersion]:
    """Return the rule versions that decisions name by (rule name, version)."""
    wanted = set(decisions)
    if not wanted:
        return {}
    rows = RuleVersion.objects.filter(
        rule__name__in={name for name, _number in wanted},
        number__in={number for _name, number in wanted},
    ).select_related("rule", "proposed_by", "decided_by")
    return {
        (row.rule.name, row.number): row
        for row in rows
        if (row.rule.name, row.number) in wanted
    }


def category_kinds() -> dict[str, str]:
    """Return each category code's kind (service, marketing, mandatory)."""
    return dict(Category.objects.values_list("code", "kind"))


def cap_categories(
    rules: Sequence[RuleVersion], kinds: dict[str, str]
) -> set[str] | None:
    """Return the category codes some cap covers, or None when one covers all."""
    codes: set[str] = set()
    for rule in rules:
        covered = set(rule.category_codes or kinds)
        if rule.category_kind:
            covered &= {
                code for code, kind in kinds.items() if kind == rule.category_kind
            }
        elif not rule.category_codes:
            return None
        codes |= covered
    return codes


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
