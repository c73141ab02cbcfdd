"""The dashboard's figures: volumes and rates from the rollups, the queues now,
open escalations by severity, and the contact centre's figures.

Volumes and rates never count the dispatch table: they sum the hourly or daily
rollups the lifecycle keeps. The queues read queued rows only (a partial
index), escalations and feedback their own small tables. Feedback carries its
dispatch's channel, category and template, and a dispatch its communication's
category, copied when written: no figure joins the 10M-row tables.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from urllib.parse import urlencode

from django.db.models import Count, F, Min, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext

from channels_app.incidents import deadlines_all
from channels_app.models import (
    Batch,
    Dispatch,
    DispatchRollup,
    Escalation,
    Incident,
    Severity,
)
from channels_app.pauses import held_counts, pauses_active
from channels_app.rollups import day_start, hour_start
from console.models import Feedback
from customers.reasons import reason_display

Status = Dispatch.Status
Span = DispatchRollup.Span
CREATED = DispatchRollup.CREATED
# period: (buckets, span)
PERIODS = {"24h": (24, Span.HOUR), "7d": (7, Span.DAY), "30d": (30, Span.DAY)}
SEVERITIES = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW]
RATES = ["delivery", "bounce", "failure", "suppression", "complaint"]


@dataclass(frozen=True)
class Filters:
    period: str = "7d"
    channel: str = ""
    category: str = ""


@dataclass(frozen=True)
class Window:
    span: str
    buckets: list[datetime]
    start: datetime
    end: datetime
    previous_start: datetime


def window(period: str, now: datetime) -> Window:
    """Return the buckets of a period ending now, and where the previous began."""
    count, span = PERIODS[period]
    if span == Span.HOUR:
        end = hour_start(now) + timedelta(hours=1)
        buckets = [end - timedelta(hours=count - i) for i in range(count)]
    else:
        today = day_start(now)
        # Local midnights: add days in local time, not 24-hour steps.
        buckets = [
            day_start(today - timedelta(days=count - 1 - i) + timedelta(hours=12))
            for i in range(count)
        ]
        end = day_start(today + timedelta(hours=36))
    start = buckets[0]
    return Window(span, buckets, start, end, start - (end - start))


def dispatch_link(**filters: str) -> str:
    """Return the admin list of the dispatches a figure counts."""
    query = {k: v for k, v in filters.items() if v}
    return reverse("admin:channels_app_dispatch_changelist") + (
        "?" + urlencode(query) if query else ""
    )


def _rollups(span: str, start: datetime, end: datetime, filters: Filters):
    rows = DispatchRollup.objects.filter(span=span, start__gte=start, start__lt=end)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.category:
        rows = rows.filter(category=filters.category)
    return rows


def _rates(totals: Counter, complaints: int) -> dict[str, float | None]:
    def share(part: int, whole: int) -> float | None:
        return round(100.0 * part / whole, 2) if whole else None

    sent = totals[Status.SENT]
    return {
        "delivery": share(totals[Status.DELIVERED], sent),
        "bounce": share(totals[Status.BOUNCED], sent),
        "failure": share(totals[Status.FAILED], sent + totals[Status.FAILED]),
        "suppression": share(totals[Status.SUPPRESSED], totals[CREATED]),
        "complaint": share(complaints, sent),
    }


def _feedback(filters: Filters, start: datetime, end: datetime):
    # The labels copied onto the feedback: no join to the dispatches.
    rows = Feedback.objects.filter(created__gte=start, created__lt=end)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.category:
        rows = rows.filter(category=filters.category)
    return rows


@dataclass
class Volumes:
    window: Window
    # status -> count, this period and the one before
    totals: Counter
    previous: Counter
    # channel -> [created per bucket]
    series: dict[str, list[int]]
    # template -> status -> count
    templates: dict[str, Counter]
    rates: dict[str, float | None]
    previous_rates: dict[str, float | None]
    complaints: Counter = field(default_factory=Counter)
    # template -> kind -> count
    feedback: dict[str, Counter] = field(default_factory=dict)


def volumes(filters: Filters, now: datetime | None = None) -> Volumes:
    """Return the period's volumes and rates, and the previous period's."""
    now = now or timezone.now()
    win = window(filters.period, now)
    rows = _rollups(win.span, win.start, win.end, filters)
    totals: Counter = Counter()
    templates: dict[str, Counter] = defaultdict(Counter)
    for template, status, n in (
        rows.values_list("template_code", "status").annotate(n=Sum("count")).order_by()
    ):
        totals[status] += n
        templates[template][status] += n
    by_bucket: dict[str, Counter] = defaultdict(Counter)
    for start, channel, n in (
        rows.filter(status=CREATED)
        .values_list("start", "channel")
        .annotate(n=Sum("count"))
        .order_by()
    ):
        by_bucket[channel][start] += n
    previous = Counter(
        dict(
            _rollups(win.span, win.previous_start, win.start, filters)
            .values_list("status")
            .annotate(n=Sum("count"))
            .order_by()
        )
    )
    # Feedback per template and kind, read once for the rates and the centre.
    feedback: dict[str, Counter] = defaultdict(Counter)
    for template, kind, n in (
        _feedback(filters, win.start, win.end)
        .values_list("template_code", "kind")
        # COUNT(*), not of the id: the scan reads the covering index alone.
        .annotate(n=Count("*"))
        .order_by()
    ):
        feedback[template][kind] = n
    complaints = Counter(
        {t: kinds[Feedback.Kind.COMPLAINT] for t, kinds in feedback.items()}
    )
    previous_complaints = (
        _feedback(filters, win.previous_start, win.start)
        .filter(kind=Feedback.Kind.COMPLAINT)
        .count()
    )
    series = {
        channel: [counts[bucket] for bucket in win.buckets]
        for channel, counts in sorted(by_bucket.items())
    }
    return Volumes(
        window=win,
        totals=totals,
        previous=previous,
        series=series,
        templates=dict(sorted(templates.items())),
        rates=_rates(totals, sum(complaints.values())),
        previous_rates=_rates(previous, previous_complaints),
        complaints=complaints,
        feedback=dict(sorted(feedback.items())),
    )


@dataclass
class ChannelQueue:
    channel: str
    due: int = 0
    oldest_due: datetime | None = None
    scheduled: int = 0
    retries: int = 0
    sending: int = 0


@dataclass
class Queues:
    channels: list[ChannelQueue]
    held_by_rules: list[tuple[str, int]]
    pauses: list[tuple]  # (pause, held)
    batches: list[Batch]


def queues_now(filters: Filters, now: datetime | None = None) -> Queues:
    """Return the queues as they stand: due, scheduled, retried, held, running."""
    now = now or timezone.now()
    queued = Dispatch.objects.filter(status=Status.QUEUED)
    sending = Dispatch.objects.filter(status=Status.SENDING)
    if filters.channel:
        queued = queued.filter(channel=filters.channel)
        sending = sending.filter(channel=filters.channel)
    if filters.category:
        # The category copied onto the dispatch, included in the queued index.
        queued = queued.filter(category=filters.category)
        sending = sending.filter(category=filters.category)
    channels: dict[str, ChannelQueue] = {}

    def row(channel: str) -> ChannelQueue:
        return channels.setdefault(channel, ChannelQueue(channel))

    # One pass over the queued rows' partial index (channel, due_at, with the
    # attempt count included): index-only on PostgreSQL.
    is_due = Q(due_at__lte=now)
    for channel, due, oldest, scheduled, retries in (
        queued.values_list("channel")
        .annotate(
            # Counting an indexed column (not the id) keeps the scan index-only.
            due=Count("due_at", filter=is_due),
            oldest=Min("due_at", filter=is_due),
            scheduled=Count("due_at", filter=~is_due),
            retried=Count("due_at", filter=Q(attempt_count__gt=0)),
        )
        .order_by()
    ):
        queue = row(channel)
        queue.due, queue.oldest_due = due, oldest
        queue.scheduled, queue.retries = scheduled, retries
    for channel, n in sending.values_list("channel").annotate(n=Count("id")).order_by():
        row(channel).sending = n
    # Why rules hold what they hold: the latest decision of each deferred row.
    reasons: Counter = Counter()
    for decisions in (
        queued.filter(due_at__gt=now)
        .exclude(rule_decisions=[])
        .values_list("rule_decisions", flat=True)[:2000]
    ):
        if decisions and isinstance(decisions[-1], dict):
            last = decisions[-1]
            reasons[reason_display(last.get("reason") or last.get("rule", ""))] += 1
    active = pauses_active()
    held = held_counts(active)
    return Queues(
        channels=sorted(channels.values(), key=lambda q: q.channel),
        held_by_rules=reasons.most_common(8),
        pauses=[(pause, held.get(pause.pk, 0)) for pause in active.pauses],
        batches=list(
            Batch.objects.filter(
                status__in=[Batch.Status.PENDING, Batch.Status.RUNNING]
            ).order_by("created")[:10]
        ),
    )


@dataclass
class SeverityRow:
    severity: str
    label: str
    open: int
    oldest: datetime | None
    deadline: timedelta
    overdue: int

    @property
    def deadline_label(self) -> str:
        hours = self.deadline.total_seconds() / 3600
        if hours >= 24 and hours % 24 == 0:
            return ngettext("%(n)d day", "%(n)d days", int(hours // 24)) % {
                "n": hours // 24
            }
        return ngettext("%(n)d hour", "%(n)d hours", int(hours)) % {"n": hours}


def escalations_open(now: datetime | None = None) -> list[SeverityRow]:
    """Return the open escalations per severity, with their age against the deadline."""
    now = now or timezone.now()
    opened = Escalation.objects.filter(status=Escalation.Status.OPEN)
    deadlines = deadlines_all()
    counts = opened.aggregate(
        **{
            f"{severity}_n": Count("id", filter=Q(severity=severity))
            for severity in SEVERITIES
        },
        **{
            f"{severity}_oldest": Min("opened", filter=Q(severity=severity))
            for severity in SEVERITIES
        },
        **{
            f"{severity}_overdue": Count(
                "id",
                filter=Q(severity=severity, opened__lt=now - deadlines[severity]),
            )
            for severity in SEVERITIES
        },
    )
    return [
        SeverityRow(
            severity,
            Severity(severity).label,
            counts[f"{severity}_n"],
            counts[f"{severity}_oldest"],
            deadlines[severity],
            counts[f"{severity}_overdue"],
        )
        for severity in SEVERITIES
    ]


def incidents_open(now: datetime | None = None) -> list[Incident]:
    """Return the incidents not yet resolved, most severe and oldest first."""
    now = now or timezone.now()
    rank = {severity: n for n, severity in enumerate(SEVERITIES)}
    rows = list(
        Incident.objects.exclude(status=Incident.Status.RESOLVED)
        .select_related("owner", "owner_group")
        .order_by("opened")[:50]
    )
    for incident in rows:
        incident.overdue = incident.deadline < now
    return sorted(rows, key=lambda i: (rank.get(i.severity, 9), i.opened))


@dataclass
class ContactCentre:
    by_kind: Counter
    by_template: dict[str, Counter]
    complaints_per_thousand: dict[str, float | None]
    complaints: int
    first_contact_resolved: int
    resolved: int
    median_hours: float | None

    @property
    def kinds(self) -> list[tuple[str, str, int]]:
        """Return (kind, its label, count) for every kind of feedback."""
        return [
            (kind, label, self.by_kind.get(kind, 0))
            for kind, label in Feedback.Kind.choices
        ]

    @property
    def first_contact_rate(self) -> float | None:
        if not self.complaints:
            return None
        return round(100.0 * self.first_contact_resolved / self.complaints, 1)


def complaints_per_thousand(complaints: int, sent: int) -> float | None:
    """Return complaints per 1,000 sent, to two places; None when nothing was sent."""
    return round(1000.0 * complaints / sent, 2) if sent else None


def contact_centre(filters: Filters, figures: Volumes) -> ContactCentre:
    """Return feedback by kind and template, complaint rates, and resolution."""
    win = figures.window
    rows = _feedback(filters, win.start, win.end)
    by_template = figures.feedback
    by_kind: Counter = Counter()
    for kinds in by_template.values():
        by_kind.update(kinds)
    templates = set(by_template) | set(figures.templates)
    per_thousand = {}
    for template in sorted(templates):
        sent = figures.templates.get(template, Counter())[Status.SENT]
        complaints = by_template.get(template, Counter())[Feedback.Kind.COMPLAINT]
        per_thousand[template] = complaints_per_thousand(complaints, sent)
    # Counted and the median picked in the database: a period may hold tens
    # of thousands of resolved complaints, too many to load and sort here.
    resolved = rows.filter(
        kind=Feedback.Kind.COMPLAINT, escalation__status=Escalation.Status.RESOLVED
    )
    counts = resolved.aggregate(
        resolved=Count("*"),
        first_contact=Count("id", filter=Q(agent_id=F("escalation__resolved_by_id"))),
    )
    done = counts["resolved"]
    # The middle one, or the middle two of an even number.
    middle = (
        resolved.annotate(took=F("escalation__resolved") - F("escalation__opened"))
        .order_by("took")
        .values_list("took", flat=True)[(done - 1) // 2 : done // 2 + 1]
        if done
        else []
    )
    hours = [took.total_seconds() / 3600 for took in middle]
    return ContactCentre(
        by_kind=by_kind,
        by_template=dict(sorted(by_template.items())),
        complaints_per_thousand=per_thousand,
        complaints=by_kind[Feedback.Kind.COMPLAINT],
        first_contact_resolved=counts["first_contact"],
        resolved=done,
        median_hours=round(median(hours), 1) if hours else None,
    )
