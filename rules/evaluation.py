"""Apply the rules to candidates in memory: no queries, no writes.

Everything a decision needs (the rules, what counts toward each cap, recent
duplicates, pending communications, superseding communications) is loaded
beforehand in a constant number of queries (`rules.selectors`), so a batch of
any size costs the same number of queries. The trigger path, the due recheck
and the admin's dry run share this one function.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from customers import reasons
from rules.models import ANY_CHANNEL, Rule
from rules.timing import quiet_until, zone

QUEUE, DUE = "queue", "due"
QUEUED, SUPPRESSED, CANCELLED = "queued", "suppressed", "cancelled"
# Sequencing is declared by communications, not by rule rows; its decisions
# carry the rule-set revision as their version.
SEQUENCING = "sequencing"
# How long a dispatch waiting for another one is held before it is checked again.
HOLD_RETRY = timedelta(minutes=1)
# Quiet hours and deferring caps can push each other; a few passes settle them.
MAX_PASSES = 6


@dataclass
class Candidate:
    """One dispatch as the rules see it."""

    key: int
    communication_id: int
    customer_id: int
    channel: str
    template_code: str
    category: str
    kind: str
    mandatory: bool
    correlation_key: str
    due_at: datetime
    time_zone: str
    waits_for: Sequence[str] = ()
    # An agent's correct-and-reissue: it replaces what went out, so the copy
    # it corrects is no duplicate of it.
    correction: bool = False


@dataclass
class Verdict:
    """What the rules did to one candidate."""

    status: str
    due_at: datetime
    decisions: list[dict] = field(default_factory=list)
    decision: str = ""
    # For the dry run: every rule considered, acting or not.
    trace: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Counted:
    """A dispatch that counts toward frequency caps."""

    at: datetime
    channel: str
    category: str
    kind: str


@dataclass(frozen=True)
class Superseder:
    """A communication that cancels older pending ones of named templates."""

    communication_id: int
    customer_id: int
    supersedes: tuple[str, ...]
    correlation_key: str
    template_code: str


@dataclass
class Context:
    """Everything loaded once for one evaluation."""

    rules: list[Rule]
    revision: int
    # customer id -> dispatches that count toward caps
    counted: dict[int, list[Counted]] = field(default_factory=lambda: defaultdict(list))
    # (customer, template, correlation key, channel) -> when such dispatches were
    # created
    recent: dict[tuple[int, str, str, str], list[datetime]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # customer id -> communications that supersede others (due stage)
    superseders: dict[int, list[Superseder]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # (customer, template) -> (communication id, correlation key, due at) of
    # pending (queued or sending) dispatches
    pending: dict[tuple[int, str], list[tuple[int, str, datetime]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def supersedes_match(
    superseder: Superseder, communication_id: int, template: str, correlation_key: str
) -> bool:
    """Return whether `superseder` cancels an older communication's dispatch."""
    return (
        communication_id < superseder.communication_id
        and template in superseder.supersedes
        and (
            not superseder.correlation_key
            or superseder.correlation_key == correlation_key
        )
    )


def superseded_reason(superseder: Superseder) -> str:
    """Return why a superseded dispatch was stopped or cancelled."""
    if superseder.correlation_key:
        return reasons.SUPERSEDED_FOR.text(
            template=superseder.template_code,
            communication=superseder.communication_id,
            key=superseder.correlation_key,
        )
    return reasons.SUPERSEDED.text(
        template=superseder.template_code,
        communication=superseder.communication_id,
    )


def rule_applies(rule: Rule, candidate: Candidate) -> str:
    """Return "" when `rule` covers the candidate, else why it does not."""
    if rule.channel != ANY_CHANNEL and rule.channel != candidate.channel:
        return reasons.ONLY_FOR_CHANNEL.text(channel=rule.channel)
    if rule.category_kind and rule.category_kind != candidate.kind:
        return reasons.ONLY_FOR_KIND.text(kind=rule.category_kind)
    codes = rule.category_codes
    if codes and candidate.category not in codes:
        return reasons.ONLY_FOR_CATEGORIES.text(categories=", ".join(codes))
    return ""


def _counts_toward(rule: Rule, entry: Counted) -> bool:
    if rule.channel != ANY_CHANNEL and rule.channel != entry.channel:
        return False
    if rule.category_kind and rule.category_kind != entry.kind:
        return False
    codes = rule.category_codes
    return not codes or entry.category in codes


def _exempt_reason(rule: Rule, candidate: Candidate) -> str:
    if rule.exempt_mandatory and candidate.mandatory:
        return reasons.MANDATORY_EXEMPT.text(category=candidate.category, rule=rule)
    if candidate.category in rule.exempt_codes:
        return reasons.CATEGORY_EXEMPT.text(category=candidate.category, rule=rule)
    return ""


def _hours(rule: Rule) -> str:
    return reasons.period(rule.window_hours or 0)


class _Run:
    """One evaluation: the shared context, the stage and the clock."""

    def __init__(self, context: Context, *, stage: str, now: datetime, trace: bool):
        self.context = context
        self.stage = stage
        self.now = now
        self.trace = trace
        self.by_kind: dict[str, list[Rule]] = defaultdict(list)
        for rule in context.rules:
            self.by_kind[rule.kind].append(rule)

    def record(self, verdict: Verdict, rule: Rule | None, outcome: str, reason: str):
        verdict.decisions.append(
            {
                "rule": rule.name if rule else SEQUENCING,
                "version": rule.version if rule else self.context.revision,
                "outcome": outcome,
                "reason": reason,
                "stage": self.stage,
                "at": self.now.isoformat(),
            }
        )

    def note(self, verdict: Verdict, rule: Rule | None, outcome: str, reason: str):
        if self.trace:
            verdict.trace.append(
                {
                    "rule": rule.name if rule else SEQUENCING,
                    "kind": rule.get_kind_display() if rule else SEQUENCING,
                    "version": rule.version if rule else self.context.revision,
                    "outcome": outcome,
                    "reason": reason,
                }
            )

    def stop(self, verdict: Verdict, status: str, rule, outcome: str, reason: str):
        verdict.status = status
        verdict.decision = reason
        self.record(verdict, rule, outcome, reason)
        self.note(verdict, rule, outcome, reason)

    # -- sequencing ---------------------------------------------------------

    def superseded(self, candidate: Candidate, verdict: Verdict) -> bool:
        for superseder in self.context.superseders.get(candidate.customer_id, ()):
            if supersedes_match(
                superseder,
                candidate.communication_id,
                candidate.template_code,
                candidate.correlation_key,
            ):
                self.stop(
                    verdict,
                    # A new dispatch is never queued; a pending one is cancelled.
                    SUPPRESSED if self.stage == QUEUE else CANCELLED,
                    None,
                    "superseded",
                    superseded_reason(superseder),
                )
                return True
        return False

    def waiting(self, candidate: Candidate, verdict: Verdict) -> bool:
        if not candidate.waits_for:
            return False
        blocking = [
            (template, due_at)
            for template in candidate.waits_for
            for communication_id, key, due_at in self.context.pending.get(
                (candidate.customer_id, template), ()
            )
            # Only an older communication blocks: two that wait for each
            # other cannot both hold, the older goes first.
            if communication_id < candidate.communication_id
            and (not candidate.correlation_key or key == candidate.correlation_key)
        ]
        if not blocking:
            self.note(
                verdict,
                None,
                "passes",
                reasons.NOTHING_PENDING.text(templates=", ".join(candidate.waits_for)),
            )
            return False
        if self.stage == QUEUE:
            # Held at the due recheck; queued meanwhile so it keeps its place.
            self.note(
                verdict,
                None,
                "held",
                reasons.HELD_WHEN_DUE.text(template=blocking[0][0]),
            )
            return False
        until = max(self.now + HOLD_RETRY, max(due_at for _t, due_at in blocking))
        verdict.due_at = until
        reason = reasons.WAITS_FOR.text(template=blocking[0][0])
        last = candidate_last_decision(verdict)
        if not (last and last["outcome"] == "held" and last["reason"] == reason):
            self.record(verdict, None, "held", reason)
        self.note(verdict, None, "held", reason)
        verdict.status = QUEUED
        return True

    # -- de-duplication ------------------------------------------------------

    def duplicate(self, candidate: Candidate, verdict: Verdict) -> bool:
        if self.stage != QUEUE:
            return False
        for rule in self.by_kind[Rule.Kind.DEDUPE]:
            if why := rule_applies(rule, candidate):
                self.note(verdict, rule, "not applicable", why)
                continue
            if not candidate.correlation_key:
                self.note(
                    verdict,
                    rule,
                    "not applicable",
                    reasons.NO_CORRELATION_KEY.text(),
                )
                continue
            if candidate.correction:
                self.note(verdict, rule, "not applicable", reasons.CORRECTION.text())
                continue
            since = self.now - timedelta(hours=rule.window_hours or 0)
            seen = self.context.recent.get(self._dedupe_key(candidate), ())
            if any(created > since for created in seen):
                self.stop(
                    verdict,
                    SUPPRESSED,
                    rule,
                    "deduplicated",
                    reasons.DUPLICATE.text(
                        template=candidate.template_code,
                        key=candidate.correlation_key,
                        channel=candidate.channel,
                        period=_hours(rule),
                    ),
                )
                return True
            self.note(verdict, rule, "passes", reasons.NO_DUPLICATE.text())
        return False

    @staticmethod
    def _dedupe_key(candidate: Candidate) -> tuple[int, str, str, str]:
        return (
            candidate.customer_id,
            candidate.template_code,
            candidate.correlation_key,
            candidate.channel,
        )

    # -- quiet hours and caps -------------------------------------------------

    def quiet(self, candidate: Candidate, verdict: Verdict, seen: set) -> bool:
        """Defer past every quiet window that covers the due time; return if moved."""
        moved = False
        tz = zone(candidate.time_zone)
        for rule in self.by_kind[Rule.Kind.QUIET_HOURS]:
            if why := rule_applies(rule, candidate):
                self.note(verdict, rule, "not applicable", why)
                continue
            until = quiet_until(
                verdict.due_at, start=rule.quiet_start, end=rule.quiet_end, tz=tz
            )
            window = reasons.QUIET_WINDOW.format(
                start=rule.quiet_start, end=rule.quiet_end, zone=tz.key
            )
            if until is None:
                self.note(
                    verdict,
                    rule,
                    "passes",
                    reasons.OUTSIDE_QUIET_HOURS.text(window=window),
                )
                continue
            if exempt := _exempt_reason(rule, candidate):
                if (rule.pk, "exempted") not in seen:
                    seen.add((rule.pk, "exempted"))
                    self.record(verdict, rule, "exempted", exempt)
                    self.note(verdict, rule, "exempted", exempt)
                continue
            local = verdict.due_at.astimezone(tz)
            reason = reasons.QUIET_DEFERRED.text(
                local=local, zone=tz.key, window=window, until=until.astimezone(tz)
            )
            verdict.due_at = until
            self.record(verdict, rule, "deferred", reason)
            self.note(verdict, rule, "deferred", reason)
            moved = True
        return moved

    def capped(self, candidate: Candidate, verdict: Verdict, seen: set) -> bool:
        """Apply every frequency cap; return whether the due time moved."""
        history = self.context.counted.get(candidate.customer_id, ())
        for rule in self.by_kind[Rule.Kind.FREQUENCY_CAP]:
            if why := rule_applies(rule, candidate):
                self.note(verdict, rule, "not applicable", why)
                continue
            window = timedelta(hours=rule.window_hours or 0)
            at = verdict.due_at
            times = sorted(
                entry.at
                for entry in history
                if at - window < entry.at <= at and _counts_toward(rule, entry)
            )
            limit = rule.cap_count or 0
            tally = reasons.CAP_TALLY.text(
                count=len(times), limit=limit, period=_hours(rule)
            )
            if len(times) < limit:
                self.note(verdict, rule, "passes", tally)
                continue
            if candidate.mandatory:
                if (rule.pk, "exempted") not in seen:
                    seen.add((rule.pk, "exempted"))
                    reason = reasons.NEVER_CAPPED.text(tally=tally)
                    self.record(verdict, rule, "exempted", reason)
                    self.note(verdict, rule, "exempted", reason)
                continue
            if rule.cap_mode == Rule.CapMode.SUPPRESS:
                self.stop(
                    verdict,
                    SUPPRESSED,
                    rule,
                    "capped",
                    reasons.CAP_REACHED.text(tally=tally),
                )
                return False
            # The window allows one more once the oldest excess entry leaves it.
            until = times[len(times) - limit] + window
            reason = reasons.CAP_DEFERRED.text(tally=tally, until=until)
            verdict.due_at = until
            self.record(verdict, rule, "deferred", reason)
            self.note(verdict, rule, "deferred", reason)
            return True
        return False

    def timing(self, candidate: Candidate, verdict: Verdict) -> None:
        seen: set = set()
        for _pass in range(MAX_PASSES):
            trace, self.trace = self.trace, self.trace and _pass == 0
            moved = self.quiet(candidate, verdict, seen)
            if verdict.status == QUEUED:
                moved = self.capped(candidate, verdict, seen) or moved
            self.trace = trace
            if not moved or verdict.status != QUEUED:
                return
            # A deferral can land in another rule's window: look again.
            if not self._moves_again(candidate, verdict):
                return

    def _moves_again(self, candidate: Candidate, verdict: Verdict) -> bool:
        tz = zone(candidate.time_zone)
        for rule in self.by_kind[Rule.Kind.QUIET_HOURS]:
            if rule_applies(rule, candidate) or _exempt_reason(rule, candidate):
                continue
            if quiet_until(
                verdict.due_at, start=rule.quiet_start, end=rule.quiet_end, tz=tz
            ):
                return True
        at = verdict.due_at
        history = self.context.counted.get(candidate.customer_id, ())
        for rule in self.by_kind[Rule.Kind.FREQUENCY_CAP]:
            if rule_applies(rule, candidate) or candidate.mandatory:
                continue
            window = timedelta(hours=rule.window_hours or 0)
            count = sum(
                1
                for entry in history
                if at - window < entry.at <= at and _counts_toward(rule, entry)
            )
            if count >= (rule.cap_count or 0):
                return True
        return False


def candidate_last_decision(verdict: Verdict) -> dict | None:
    return verdict.decisions[-1] if verdict.decisions else None


def evaluate(
    candidates: Iterable[Candidate],
    context: Context,
    *,
    stage: str,
    now: datetime,
    previous: dict[int, list[dict]] | None = None,
    trace: bool = False,
) -> dict[int, Verdict]:
    """Return each candidate's verdict by key, in the order given.

    Candidates are taken in order: one accepted counts toward the caps of the
    next, and a first of duplicates wins. `previous` holds the decisions already
    on each dispatch (due stage), so repeated holds are not recorded twice.
    """
    run = _Run(context, stage=stage, now=now, trace=trace)
    verdicts: dict[int, Verdict] = {}
    for candidate in candidates:
        # When due, the rules judge the moment it would go: now.
        start = max(candidate.due_at, now) if stage == DUE else candidate.due_at
        verdict = Verdict(status=QUEUED, due_at=start)
        if previous and candidate.key in previous:
            verdict.decisions = list(previous[candidate.key])
        recorded = len(verdict.decisions)
        verdicts[candidate.key] = verdict
        if run.superseded(candidate, verdict) or run.duplicate(candidate, verdict):
            pass
        elif not run.waiting(candidate, verdict):
            run.timing(candidate, verdict)
        verdict.decisions = verdict.decisions[recorded:]
        if verdict.due_at == start:
            verdict.due_at = candidate.due_at
        if verdict.status == QUEUED:
            context.counted[candidate.customer_id].append(
                Counted(
                    verdict.due_at,
                    candidate.channel,
                    candidate.category,
                    candidate.kind,
                )
            )
            if stage == QUEUE:
                context.recent[run._dedupe_key(candidate)].append(now)
    return verdicts
