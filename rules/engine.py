"""Central communication rules, applied to every dispatch in bulk.

Two evaluation points share one in-memory evaluation (`rules.evaluation`):

- `trigger_evaluate`, inside the trigger transaction, before anything is
  queued: dedupe, in-call superseding, quiet hours and caps on the new
  dispatches, and the cancellation of pending dispatches that the new
  communications supersede;
- `due_recheck`, inside the claim transaction, on rows already locked: the
  superseding that happened since, waits-for holds, quiet hours and caps again
  (time moved on; a customer's time zone or a rule may have changed).

Both lock the customers' rows (FOR NO KEY UPDATE, ordered by id) before they
count anything, so two workers evaluating caps for one customer take turns
and the second sees what the first queued or claimed. NO KEY UPDATE does not
conflict with the key-share locks that inserting a communication takes on its
customer, so two triggers for one customer queue up instead of deadlocking.
"""

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from audit.services import AuditEntry, events_record_bulk
from channels_app.models import Customer, Dispatch, DispatchStatusChange
from rules import selectors
from rules.evaluation import (
    DUE,
    QUEUE,
    SEQUENCING,
    Candidate,
    Context,
    Superseder,
    Verdict,
    evaluate,
    superseded_reason,
    supersedes_match,
)
from rules.models import Rule

Status = Dispatch.Status
ACTOR_LABEL = "rules"


def customers_lock(customer_ids) -> dict[int, str]:
    """Lock the customers' rows in id order; return each one's time zone."""
    zones: dict[int, str] = {}
    for chunk in selectors.chunks(customer_ids):
        zones.update(
            Customer.objects.select_for_update(no_key=True)
            .filter(id__in=chunk)
            .order_by("id")
            .values_list("id", "time_zone")
        )
    return zones


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
        context.counted = selectors.counted_history(
            customer_ids=customer_ids,
            since=earliest - widest,
            statuses=(
                selectors.COUNTED_QUEUE if stage == QUEUE else selectors.COUNTED_DUE
            ),
            kinds=kinds,
            categories=selectors.cap_categories(caps, kinds),
        )
    dedupes = [r for r in rules if r.kind == Rule.Kind.DEDUPE]
    keyed = [c for c in candidates if c.correlation_key]
    if stage == QUEUE and dedupes and keyed:
        widest = max(timedelta(hours=r.window_hours or 0) for r in dedupes)
        context.recent = selectors.recent_dispatches(
            customer_ids={c.customer_id for c in keyed},
            templates={c.template_code for c in keyed},
            since=now - widest,
        )
    waiting = [c for c in candidates if c.waits_for]
    if waiting:
        context.pending = selectors.pending_of_templates(
            customer_ids={c.customer_id for c in waiting},
            templates={t for c in waiting for t in c.waits_for},
        )
    if stage == DUE:
        context.superseders = selectors.superseders_after(
            customer_ids=customer_ids,
            after_communication_id=min(c.communication_id for c in candidates),
        )
    return context


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


WRITABLE = {
    "status": "text",
    "status_changed": "timestamptz",
    "due_at": "timestamptz",
    "decision": "text",
    "rule_decisions": "jsonb",
}


def dispatches_write(dispatches: Sequence[Dispatch], fields: Sequence[str]) -> None:
    """Save the rules' changes to many dispatches in one statement.

    On PostgreSQL one UPDATE ... FROM jsonb_to_recordset carries every row (the
    ORM's bulk_update builds a CASE per row and field, slow in Python for
    thousands); elsewhere bulk_update.
    """
    if connection.vendor != "postgresql":
        Dispatch.objects.bulk_update(dispatches, fields)
        return
    rows = [
        {
            "id": dispatch.pk,
            **{
                name: (
                    getattr(dispatch, name).isoformat()
                    if name in ("due_at", "status_changed")
                    else getattr(dispatch, name)
                )
                for name in fields
            },
        }
        for dispatch in dispatches
    ]
    table = connection.ops.quote_name(Dispatch._meta.db_table)
    assignments = ", ".join(f"{name} = v.{name}" for name in fields)
    columns = ", ".join(f"{name} {WRITABLE[name]}" for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS d SET {assignments} "  # noqa: S608 (fixed names)
            f"FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, {columns}) "
            "WHERE d.id = v.id",
            [json.dumps(rows, cls=DjangoJSONEncoder)],
        )


def _audit(dispatch: Dispatch, decision: dict, before: str) -> AuditEntry:
    return AuditEntry(
        action=f"rules.dispatch.{decision['outcome']}",
        actor_kind="system",
        actor_label=ACTOR_LABEL,
        subject=dispatch,
        before={"status": before},
        after={
            "status": dispatch.status,
            "due_at": dispatch.due_at.isoformat(),
            "rule": decision["rule"],
            "version": decision["version"],
            "stage": decision["stage"],
        },
        reason=decision["reason"],
    )


def _superseded_cancel(
    *, communications, now: datetime, revision: int
) -> list[Dispatch]:
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
    cancelled: list[Dispatch] = []
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
            dispatch.status = Status.CANCELLED
            dispatch.status_changed = now
            dispatch.decision = reason
            dispatch.rule_decisions = [
                *dispatch.rule_decisions,
                {
                    "rule": SEQUENCING,
                    "version": revision,
                    "outcome": "superseded",
                    "reason": reason,
                    "stage": QUEUE,
                    "at": now.isoformat(),
                },
            ]
            cancelled.append(dispatch)
    if cancelled:
        dispatches_write(
            cancelled, ["decision", "rule_decisions", "status", "status_changed"]
        )
        DispatchStatusChange.objects.bulk_create(
            DispatchStatusChange(dispatch=d, status=d.status, at=now, detail=d.decision)
            for d in cancelled
        )
        events_record_bulk(
            entries=[_audit(d, d.rule_decisions[-1], Status.QUEUED) for d in cancelled]
        )
    return cancelled


def trigger_evaluate(*, dispatches: Sequence[Dispatch], now: datetime) -> None:
    """Apply the rules to new dispatches before they are rendered and queued.

    `dispatches` are unsaved, each with its saved `communication` (customer
    loaded). Called once per trigger call (one or many communications) inside
    its transaction. Mutates each dispatch in place: a later `due_at`
    (deferred), status SUPPRESSED (capped, deduplicated, superseded within the
    call), and appends to `rule_decisions`. Cancels pending dispatches that a
    new communication supersedes. Dispatches already suppressed (consent) are
    left alone.
    """
    if not dispatches:
        return
    communications = list(
        {d.communication.pk: d.communication for d in dispatches}.values()
    )
    zones = customers_lock(c.customer_id for c in communications)
    rules = selectors.rules_in_force()
    revision = selectors.rule_set_revision()
    _superseded_cancel(communications=communications, now=now, revision=revision)
    queued = [d for d in dispatches if d.status == Status.QUEUED]
    if not queued:
        return
    kinds = selectors.category_kinds()
    candidates = [_candidate(n, d, kinds, zones) for n, d in enumerate(queued)]
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
    verdicts = evaluate(candidates, context, stage=QUEUE, now=now)
    for n, dispatch in enumerate(queued):
        _verdict_apply(dispatch, verdicts[n], now)


def _verdict_apply(dispatch: Dispatch, verdict: Verdict, now: datetime) -> list[str]:
    """Copy a verdict onto a dispatch; return the fields that changed."""
    changed = []
    if verdict.decisions:
        dispatch.rule_decisions = [*(dispatch.rule_decisions or []), *verdict.decisions]
        changed.append("rule_decisions")
    if verdict.due_at != dispatch.due_at:
        dispatch.due_at = verdict.due_at
        changed.append("due_at")
    if verdict.status != dispatch.status:
        dispatch.status = verdict.status
        dispatch.status_changed = now
        dispatch.decision = verdict.decision
        changed += ["status", "status_changed", "decision"]
    return changed


def due_recheck(*, ids: Sequence[int], now: datetime) -> set[int]:
    """Re-apply the rules to claimable dispatches; return the ids held back.

    Called inside the claim transaction with the rows already locked. Held
    dispatches have been moved (deferred, cancelled or suppressed) with their
    decision recorded; the caller must not claim them.
    """
    if not ids:
        return set()
    with transaction.atomic():
        return _due_recheck(ids=ids, now=now)


def _due_recheck(*, ids: Sequence[int], now: datetime) -> set[int]:
    rows = list(
        Dispatch.objects.filter(id__in=list(ids), status=Status.QUEUED)
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
            "communication__category",
            "communication__mandatory",
            "communication__correlation_key",
            "communication__waits_for",
            "communication__reissue_of_id",
        )
        .order_by("due_at", "id")
    )
    if not rows:
        return set()
    zones = customers_lock(d.communication.customer_id for d in rows)
    rules = selectors.rules_in_force()
    revision = selectors.rule_set_revision()
    kinds = selectors.category_kinds()
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
    held: set[int] = set()
    changed_rows, moved, entries = [], [], []
    fields: set[str] = set()
    for dispatch in rows:
        verdict = verdicts[dispatch.pk]
        before = dispatch.status
        changed = _verdict_apply(dispatch, verdict, now)
        if not changed:
            continue
        changed_rows.append(dispatch)
        fields.update(changed)
        if dispatch.status != Status.QUEUED or dispatch.due_at > now:
            held.add(dispatch.pk)
        if dispatch.status != before:
            moved.append(dispatch)
        entries += [_audit(dispatch, d, before) for d in verdict.decisions]
    if changed_rows:
        dispatches_write(changed_rows, sorted(fields))
    if moved:
        DispatchStatusChange.objects.bulk_create(
            DispatchStatusChange(dispatch=d, status=d.status, at=now, detail=d.decision)
            for d in moved
        )
    if entries:
        events_record_bulk(entries=entries)
    return held
