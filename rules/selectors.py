"""Every read the rules make, each one query (per chunk of 5,000 customers).

The loaders return plain values keyed the way `rules.evaluation` looks them up,
so an evaluation of any number of candidates costs a fixed number of queries.
"""

from collections.abc import Iterable, Iterator, Sequence

from django.db.models import Count, Max

from rules.models import EVER_APPROVED, RuleVersion
from templates_app.models import Category

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


# The rules in force this process read last, by the rule set's state.
_IN_FORCE: dict[tuple, list[RuleVersion]] = {}


def rules_in_force_revised() -> tuple[list[RuleVersion], int]:
    """Return the rules in force and the rule set's revision (`rule_set_revision`).

    One query while the rule set is as this process read it last: every change
    to the rules in force is an approval, which adds an approved version and
    stamps its decision, so the state (count, newest id, newest proposal and
    decision) differs and the rules are read again. The rule versions returned
    are shared: read them, never change them.
    """
    state = RuleVersion.objects.filter(status__in=EVER_APPROVED).aggregate(
        count=Count("id"),
        newest=Max("id"),
        proposed=Max("proposed_at"),
        decided=Max("decided_at"),
    )
    key = tuple(state.values())
    rules = _IN_FORCE.get(key)
    if rules is None:
        rules = rules_in_force()
        _IN_FORCE.clear()
        _IN_FORCE[key] = rules
    return rules, state["count"]


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
