"""What the rules would do to a communication now, and why, without writing.

The dry run builds the same candidates as the trigger path, loads the same
context and calls the same `evaluate`, with a trace of every rule considered.
It takes no locks and writes nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime

from customers.consent import ConsentDecision, consent_decide
from customers.models import Customer
from rules import selectors
from rules.evaluation import QUEUE, SUPPRESSED, Candidate, Verdict, evaluate
from rules.history import history_source
from rules.models import RuleVersion
from rules.timing import zone
from templates_app.models import Template
from templates_app.selectors import version_in_force

# Any id below every real communication: nothing stored counts as "itself".
DRY_RUN_COMMUNICATION = -1
FALLBACK_ORDER = ("email", "sms", "letter")


@dataclass
class ChannelExplanation:
    """The consent decision and the rules' verdict for one channel."""

    channel: str
    consent: ConsentDecision
    verdict: Verdict | None = None
    # Rules that were not reached because an earlier one stopped the dispatch.
    not_reached: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if not self.consent.allowed:
            return "suppressed by consent"
        if self.verdict.status == SUPPRESSED:
            return "suppressed by a rule"
        return "queued"


@dataclass
class Explanation:
    customer: Customer
    template: Template
    at: datetime
    local_at: str
    channels: list[ChannelExplanation]
    # Pending dispatches the communication would cancel (supersedes).
    would_cancel: list


def rules_explain(
    *,
    customer: Customer,
    template: Template,
    at: datetime,
    channels: list[str] | None = None,
    correlation_key: str = "",
    supersedes: list[str] | None = None,
    waits_for: list[str] | None = None,
    rules: list[RuleVersion] | None = None,
    revision: int | None = None,
) -> Explanation:
    """Return what the rules would do if `template` were triggered for `customer`.

    `rules` (and the `revision` they make) replace the rules in force, e.g. to
    show a proposed change's effect before it is approved. The category and
    channels are those approved with the version in force, as a trigger would
    use them; the template's own when none is in force.
    """
    approved = version_in_force(template) or template
    category = approved.category
    kind = category.kind
    wanted = channels or [c for c in FALLBACK_ORDER if c in approved.channels]
    explained = [
        ChannelExplanation(
            channel=channel,
            consent=consent_decide(
                customer=customer,
                channel=channel,
                category=category.code,
                mandatory=kind == "mandatory",
                requires_opt_in=kind == "marketing",
            ),
        )
        for channel in wanted
    ]
    candidates = [
        Candidate(
            key=n,
            communication_id=DRY_RUN_COMMUNICATION,
            customer_id=customer.pk,
            channel=item.channel,
            template_code=template.code,
            category=category.code,
            kind=kind,
            mandatory=kind == "mandatory",
            correlation_key=correlation_key,
            due_at=at,
            time_zone=customer.time_zone,
            waits_for=tuple(waits_for or ()),
        )
        for n, item in enumerate(explained)
        if item.consent.allowed
    ]
    if rules is None:
        rules = selectors.rules_in_force()
        revision = selectors.rule_set_revision()
    context = history_source().context_load(
        candidates=candidates,
        stage=QUEUE,
        now=at,
        rules=rules,
        revision=revision or 0,
        kinds=selectors.category_kinds(),
    )
    verdicts = evaluate(candidates, context, stage=QUEUE, now=at, trace=True)
    for candidate in candidates:
        item = explained[candidate.key]
        item.verdict = verdicts[candidate.key]
        traced = {entry["rule"] for entry in item.verdict.trace}
        item.not_reached = [r.name for r in rules if r.name not in traced]
    return Explanation(
        customer=customer,
        template=template,
        at=at,
        local_at=f"{at.astimezone(zone(customer.time_zone)):%Y-%m-%d %H:%M}",
        channels=explained,
        would_cancel=history_source().would_cancel(
            customer=customer,
            supersedes=supersedes or [],
            correlation_key=correlation_key,
        ),
    )
