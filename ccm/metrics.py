"""The figures operators watch, for Prometheus at /metrics (prometheus-client).

Every figure is read from the database when Prometheus scrapes, so every web
process answers the same whatever worker did the work, and nothing is lost
when a process restarts. A scrape costs a few aggregate queries; the result
is kept METRICS_CACHE_SECONDS per process so that several scrapers do not
multiply them. The endpoint wants `Authorization: Bearer $METRICS_TOKEN`.
"""

import hmac
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
)

# Send latencies are summarised over this recent window.
LATENCY_WINDOW = timedelta(minutes=15)


class DatabaseCollector:
    """Collect dispatch, queue, escalation, worker and batch figures."""

    def collect(self):
        from ccm.health import supervised_processes
        from ccm.models import Heartbeat
        from channels_app.models import Batch, Dispatch, DispatchAttempt, Escalation

        now = timezone.now()
        dispatches = GaugeMetricFamily(
            "ccm_dispatches",
            "Dispatches by channel and current status.",
            labels=["channel", "status"],
        )
        for row in Dispatch.objects.values("channel", "status").annotate(n=Count("id")):
            dispatches.add_metric([row["channel"], row["status"]], row["n"])
        yield dispatches

        due = Dispatch.objects.filter(status=Dispatch.Status.QUEUED, due_at__lte=now)
        depth = GaugeMetricFamily(
            "ccm_outbox_due",
            "Queued dispatches due now, by channel.",
            labels=["channel"],
        )
        oldest = GaugeMetricFamily(
            "ccm_outbox_oldest_due_age_seconds",
            "How long the oldest due dispatch has waited, by channel.",
            labels=["channel"],
        )
        for row in due.values("channel").annotate(n=Count("id"), first=Min("due_at")):
            depth.add_metric([row["channel"]], row["n"])
            oldest.add_metric([row["channel"]], (now - row["first"]).total_seconds())
        yield depth
        yield oldest

        attempts = CounterMetricFamily(
            "ccm_send_attempts",
            "Send attempts by channel and outcome (transient and permanent are "
            "provider errors; every attempt after a dispatch's first is a retry).",
            labels=["channel", "outcome"],
        )
        for row in DispatchAttempt.objects.values(
            "dispatch__channel", "outcome"
        ).annotate(n=Count("id")):
            attempts.add_metric([row["dispatch__channel"], row["outcome"]], row["n"])
        yield attempts
        retries = CounterMetricFamily(
            "ccm_send_retries",
            "Send attempts after the first, by channel.",
            labels=["channel"],
        )
        for row in (
            DispatchAttempt.objects.filter(number__gt=1)
            .values("dispatch__channel")
            .annotate(n=Count("id"))
        ):
            retries.add_metric([row["dispatch__channel"]], row["n"])
        yield retries

        latency = GaugeMetricFamily(
            "ccm_send_latency_seconds",
            "Send duration of the last 15 minutes' attempts: quantiles by channel.",
            labels=["channel", "quantile"],
        )
        recent = DispatchAttempt.objects.filter(started__gte=now - LATENCY_WINDOW)
        by_channel: dict[str, list[int]] = {}
        for channel, duration in recent.values_list(
            "dispatch__channel", "duration_ms"
        ).order_by("duration_ms")[:100_000]:
            by_channel.setdefault(channel, []).append(duration)
        for channel, durations in by_channel.items():
            for q in (0.5, 0.95, 0.99):
                value = durations[min(len(durations) - 1, int(q * len(durations)))]
                latency.add_metric([channel, str(q)], value / 1000)
        yield latency

        escalations = GaugeMetricFamily(
            "ccm_escalations_open", "Open escalations by severity.", labels=["severity"]
        )
        for row in (
            Escalation.objects.filter(status=Escalation.Status.OPEN)
            .values("severity")
            .annotate(n=Count("id"))
        ):
            escalations.add_metric([row["severity"]], row["n"])
        yield escalations

        heartbeat = GaugeMetricFamily(
            "ccm_heartbeat_age_seconds",
            "Seconds since each periodic process last proved alive.",
            labels=["name", "host"],
        )
        for beat in Heartbeat.objects.all():
            age = (now - beat.last_seen).total_seconds()
            heartbeat.add_metric([beat.name, beat.hostname], age)
        yield heartbeat

        batches = GaugeMetricFamily(
            "ccm_batch_rows",
            "Rows of the batch runs not finished yet: total and processed.",
            labels=["batch", "state"],
        )
        active = Batch.objects.filter(
            status__in=[Batch.Status.PENDING, Batch.Status.RUNNING]
        )
        for batch in active.only("public_id", "total", "processed"):
            batches.add_metric([str(batch.public_id), "total"], batch.total)
            batches.add_metric([str(batch.public_id), "processed"], batch.processed)
        yield batches
        pending = active.aggregate(rows=Sum("total"), done=Sum("processed"))
        left = GaugeMetricFamily(
            "ccm_batch_rows_left", "Rows of unfinished batch runs not processed yet."
        )
        left.add_metric([], (pending["rows"] or 0) - (pending["done"] or 0))
        yield left

        if (supervised := supervised_processes()) is not None:
            restarts = CounterMetricFamily(
                "ccm_process_restarts",
                "Restarts of each process of the embedded stack (scripts/supervise).",
                labels=["process"],
            )
            for name, process in supervised["processes"].items():
                restarts.add_metric([name], process.get("restarts", 0))
            yield restarts


_cache: dict[str, tuple[float, bytes]] = {}


def metrics_text() -> bytes:
    """Return the exposition text, computed at most every METRICS_CACHE_SECONDS."""
    cached = _cache.get("text")
    if cached and time.monotonic() - cached[0] < settings.METRICS_CACHE_SECONDS:
        return cached[1]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    text = generate_latest(registry)
    _cache["text"] = (time.monotonic(), text)
    return text


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Serve the metrics to a scraper that presents the metrics token."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return HttpResponse(
            "metrics need Authorization: Bearer <METRICS_TOKEN>\n",
            status=403 if token else 404,
            content_type="text/plain",
        )
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
