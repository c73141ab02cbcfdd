"""Apply the central rules (and consent, when due) to dispatches, in bulk.

`rules.evaluation` is a pure evaluator: given candidates and the history it
needs, it returns verdicts. This module loads that history, builds the
candidates from dispatches, and hands every verdict that changes a status to
`channels_app.lifecycle`. Two evaluation points:

- `trigger_evaluate`, inside the trigger transaction, before anything is
  queued: dedupe, in-call superseding, quiet hours and caps on the new
  dispatches (returned as verdicts for the caller to open them with), and the
  cancellation of pending dispatches that the new communications supersede;
- `due_recheck`, inside the claim transaction, on rows already locked: the
  customer's consent *now* (the preference ledger and the suppression list,
  checked again in bulk: an opt-out or a hard bounce since the trigger stops
  the dispatch), then the superseding that happened since, waits-for holds,
  quiet hours and caps again (time moved on; a customer's time zone or a rule
  may have changed).

Both lock the customers' rows (FOR NO KEY UPDATE, ordered by id) before they
count anything, so two workers evaluating caps for one customer take turns
and the second sees what the first queued or claimed. NO KEY UPDATE does not
conflict with the key-share locks that inserting a communication takes on its
customer, so two triggers for one customer queue up instead of deadlocking.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from audit.services import AuditEntry
from channels_app import lifecycle
from channels_app.models import Dispatch
from channels_app.rule_history import context_load
from customers.consent import consent_decide, consent_ledgers, suppressions_of
from customers.models import Customer
from customers.services import customers_locked
from rules import selectors
from rules.evaluation import (
    DUE,
    QUEUE,
    SEQUENCING,
    Candidate,
    Superseder,
    Verdict,
    evaluate,
    superseded_reason,
    supersedes_match,
)

Status = Dispatch.Status
ACTOR_LABEL = "rules"


def customers_lock(customer_ids) -> dict[int, str]:
    """Lock the customers' rows in id order; return each one's time zone."""
    zones: dict[int, str] = {}
    for chunk in selectors.chunks(customer_ids):
        zones.update(customers_locked(Customer.objects.filter(id__in=chunk)))
    return zones


def _candidate(key: int, dispatch: Dispatch, kinds, zones) -> Candidate:
    communication = dispatch.communication
    return Candidate(
        key=key,
        communication_id=communication.pk,
        customer_id=communication.customer_id,
        channel=dispatch.channel,
        template_code=communication.template_code,
        category=communication.category,
        kind=kinds.get(communication.category, ""),
        mandatory=communication.mandatory,
        correlation_key=communication.correlation_key,
        due_at=dispatch.due_at,
        time_zone=zones.get(communication.customer_id, "UTC"),
        waits_for=tuple(communication.waits_for or ()),
        correction=communication.reissue_of_id is not None,
    )


def _audit(
    dispatch: Dispatch,
    decision: dict,
    before: str,
    after: str,
    due_at: datetime | None = None,
) -> AuditEntry:
    """Return the event of one rule decision; `due_at` if it moves the dispatch."""
    return AuditEntry(
        action=f"rules.dispatch.{decision['outcome']}",
        actor_kind="system",
        actor_label=ACTOR_LABEL,
        subject=dispatch,
        before={"status": before},
        after={
            "status": after,
            "due_at": (due_at or dispatch.due_at).isoformat(),
            "rule": decision["rule"],
            "version": decision["version"],
            "stage": decision["stage"],
        },
        reason=decision["reason"],
    )


def _superseded_cancel(
    *, communications, now: datetime, revision: int
) -> list[lifecycle.Move]:
    """Cancel the pending dispatches that the new communications supersede."""
    superseders = [
        Superseder(
            c.pk,
            c.customer_id,
            tuple(c.supersedes),
            c.correlation_key,
            c.template_code,
        )
        for c in communications
        if c.supersedes
    ]
    if not superseders:
        return []
    new_ids = {c.pk for c in communications}
    by_customer: dict[int, list[Superseder]] = {}
    for superseder in superseders:
        by_customer.setdefault(superseder.customer_id, []).append(superseder)
    templates = sorted({t for s in superseders for t in s.supersedes})
    cancelled: list[lifecycle.Move] = []
    for chunk in selectors.chunks(by_customer):
        # Rows a worker is claiming right now are skipped: the due recheck
        # cancels them if they come back to the queue.
        rows = (
            Dispatch.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=Status.QUEUED,
                communication__customer_id__in=chunk,
                communication__template_code__in=templates,
            )
            # Only older communications are superseded; ours are skipped below.
            .filter(communication_id__lt=max(s.communication_id for s in superseders))
            .select_related("communication")
            .only(
                "id",
                "status",
                "channel",
                "due_at",
                "decision",
                "rule_decisions",
                "communication__id",
                "communication__customer_id",
                "communication__template_code",
                "communication__correlation_key",
            )
        )
        for dispatch in rows:
            communication = dispatch.communication
            if communication.pk in new_ids:
                continue
            superseder = next(
                (
                    s
                    for s in by_customer[communication.customer_id]
                    if supersedes_match(
                        s,
                        communication.pk,
                        communication.template_code,
                        communication.correlation_key,
                    )
                ),
                None,
            )
            if superseder is None:
                continue
            reason = superseded_reason(superseder)
            decision = {
                "rule": SEQUENCING,
                "version": revision,
                "outcome": "superseded",
                "reason": reason,
                "stage": QUEUE,
                "at": now.isoformat(),
            }
            cancelled.append(
                lifecycle.Move(
                    dispatch,
                    Status.CANCELLED,
                    detail=reason,
                    changes={
                        "decision": reason,
                        "rule_decisions": [*dispatch.rule_decisions, decision],
                    },
                    event=_audit(dispatch, decision, Status.QUEUED, Status.CANCELLED),
                )
            )
    lifecycle.dispatches_move(moves=cancelled, now=now)
    return cancelled


def trigger_evaluate(
    *, dispatches: Sequence[Dispatch], now: datetime
) -> dict[int, Verdict]:
    """Judge new dispatches before they are queued; return each one's verdict.

    `dispatches` are unsaved, each with its saved `communication` (customer
    loaded): the ones consent allows. Called once per trigger call (one or
    many communications) inside its transaction. The verdicts are keyed by
    position in `dispatches`: a later `due_at` (deferred), status suppressed
    (capped, deduplicated, superseded within the call) and the decisions to
    record; the caller opens the dispatches with them. Pending dispatches that
    a new communication supersedes are cancelled here.
    """
    if not dispatches:
        return {}
    communications = list(
        {d.communication.pk: d.communication for d in dispatches}.values()
    )
    zones = customers_lock(c.customer_id for c in communications)
    rules, revision = selectors.rules_in_force_revised()
    _superseded_cancel(communications=communications, now=now, revision=revision)
    kinds = selectors.category_kinds()
    candidates = [_candidate(n, d, kinds, zones) for n, d in enumerate(dispatches)]
    context = context_load(
        candidates=candidates,
        stage=QUEUE,
        now=now,
        rules=rules,
        revision=revision,
        kinds=kinds,
    )
    # A later communication in the same call supersedes an earlier one.
    for communication in communications:
        if communication.supersedes:
            context.superseders[communication.customer_id].append(
                Superseder(
                    communication.pk,
                    communication.customer_id,
                    tuple(communication.supersedes),
                    communication.correlation_key,
                    communication.template_code,
                )
            )
    return evaluate(candidates, context, stage=QUEUE, now=now)


CONSENT = "consent"
DUE_FIELDS = (
    "id",
    "status",
    "channel",
    "address",
    "due_at",
    "decision",
    "rule_decisions",
    "communication__id",
    "communication__customer_id",
    "communication__template_code",
    "communication__category",
    "communication__mandatory",
    "communication__scope",
    "communication__correlation_key",
    "communication__waits_for",
    "communication__reissue_of_id",
)


def due_recheck(*, ids: Sequence[int], now: datetime) -> set[int]:
    """Re-judge claimable dispatches; return the ids held back.

    Called inside the claim transaction with the rows already locked. Held
    dispatches have been moved (suppressed by consent or a rule, cancelled) or
    deferred, with their decision recorded; the caller must not claim them.
    """
    if not ids:
        return set()
    with transaction.atomic():
        return _due_recheck(ids=ids, now=now)


def _consent_refusals(
    rows: Sequence[Dispatch], kinds: dict[str, str], now: datetime
) -> list[lifecycle.Move]:
    """Ask the ledger and the suppression list again; return the refusals.

    Two queries for any number of rows: the customers' ledgers and the
    suppressions of the addresses the dispatches will use.
    """
    ledgers = consent_ledgers(d.communication.customer_id for d in rows)
    suppressed = suppressions_of(d.address for d in rows)
    moves = []
    for dispatch in rows:
        communication = dispatch.communication
        consent = consent_decide(
            customer=None,
            channel=dispatch.channel,
            category=communication.category,
            scope=communication.scope,
            mandatory=communication.mandatory,
            requires_opt_in=kinds.get(communication.category) == "marketing",
            preferences=ledgers[communication.customer_id],
            suppressed=suppressed,
            address=dispatch.address,
        )
        if consent.allowed:
            continue
        decision = {
            "rule": CONSENT,
            "version": None,
            "outcome": "suppressed",
            "reason": consent.reason,
            "stage": DUE,
            "at": now.isoformat(),
            **consent.reference(),
        }
        moves.append(
            lifecycle.Move(
                dispatch,
                Status.SUPPRESSED,
                detail=consent.reason,
                changes={
                    "decision": consent.reason,
                    "rule_decisions": [*(dispatch.rule_decisions or []), decision],
                },
                event=AuditEntry(
                    action="channels.dispatch.suppressed",
                    actor_kind="system",
                    actor_label=CONSENT,
                    subject=dispatch,
                    before={"status": dispatch.status},
                    after={
                        "status": Status.SUPPRESSED,
                        "stage": DUE,
                        "hard": consent.hard,
                        **consent.reference(),
                    },
                    reason=consent.reason,
                ),
            )
        )
    return moves


def _due_recheck(*, ids: Sequence[int], now: datetime) -> set[int]:
    rows = list(
        Dispatch.objects.filter(id__in=list(ids), status=Status.QUEUED)
        .select_related("communication")
        .only(*DUE_FIELDS)
        .order_by("due_at", "id")
    )
    if not rows:
        return set()
    zones = customers_lock(d.communication.customer_id for d in rows)
    kinds = selectors.category_kinds()
    refused = _consent_refusals(rows, kinds, now)
    held = {move.dispatch.pk for move in refused}
    rows = [d for d in rows if d.pk not in held]
    rules, revision = selectors.rules_in_force_revised()
    candidates = [_candidate(d.pk, d, kinds, zones) for d in rows]
    context = context_load(
        candidates=candidates,
        stage=DUE,
        now=now,
        rules=rules,
        revision=revision,
        kinds=kinds,
    )
    verdicts = evaluate(
        candidates,
        context,
        stage=DUE,
        now=now,
        previous={d.pk: d.rule_decisions or [] for d in rows},
    )
    moves, deferred, events = refused, [], []
    for dispatch in rows:
        verdict = verdicts[dispatch.pk]
        if (
            not verdict.decisions
            and verdict.due_at == dispatch.due_at
            and verdict.status == dispatch.status
        ):
            continue
        held.add(dispatch.pk)
        changes = {
            "rule_decisions": [*(dispatch.rule_decisions or []), *verdict.decisions],
            "due_at": verdict.due_at,
        }
        decisions = [
            _audit(dispatch, d, dispatch.status, verdict.status, verdict.due_at)
            for d in verdict.decisions
        ]
        if verdict.status != dispatch.status:
            changes["decision"] = verdict.decision
            moves.append(
                lifecycle.Move(
                    dispatch, verdict.status, detail=verdict.decision, changes=changes
                )
            )
        else:
            if verdict.due_at <= now:
                held.discard(dispatch.pk)
            for name, value in changes.items():
                setattr(dispatch, name, value)
            deferred.append(dispatch)
        events += decisions
    lifecycle.dispatches_annotate(
        dispatches=deferred, fields=["due_at", "rule_decisions"]
    )
    lifecycle.dispatches_move(moves=moves, events=events, now=now)
    return held
