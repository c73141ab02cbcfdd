"""The hourly and daily rollups always equal a direct count of the status history.

Random sequences of triggers, claims (some an hour or a day ahead), sends,
transient and permanent failures, receipts (delivered, bounced), complaints,
cancellations and operator retries run through the real services; after each
example the rollups are compared with a count of the rows themselves, and the
category, channel and template copied onto dispatches and feedback with what
they were copied from.
"""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from channels_app import services
from channels_app.backends import DeliveryError, TransientError
from channels_app.models import Dispatch, DispatchRollup, DispatchStatusChange
from channels_app.outbox import (
    Outcome,
    dispatches_claim,
    dispatches_send,
    outcomes_record,
)
from channels_app.rollups import day_start, hour_start, rollups_rebuild
from console.services import feedback_record
from tests.factories import user_build
from tests.rules.conftest import customer_build, trigger

pytestmark = pytest.mark.django_db
Status = Dispatch.Status
TEMPLATES = ["payment-reminder", "one-time-passcode"]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("trigger"), st.sampled_from(TEMPLATES)),
        st.tuples(st.just("claim"), st.sampled_from([0, 1, 30])),  # hours ahead
        st.tuples(st.just("send"), st.just(0)),
        st.tuples(st.just("transient"), st.just(0)),
        st.tuples(st.just("permanent"), st.just(0)),
        st.tuples(st.just("delivered"), st.just(0)),
        st.tuples(st.just("bounced"), st.just(0)),
        st.tuples(st.just("complaint"), st.just(0)),
        st.tuples(st.just("cancel"), st.just(0)),
        st.tuples(st.just("retry"), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


def _fail(ids: list[int], error: DeliveryError) -> None:
    rows = Dispatch.objects.filter(id__in=ids, status=Status.SENDING).select_related(
        "communication"
    )
    outcomes_record(
        outcomes=[
            Outcome(d, d.attempt_count, timezone.now(), error=error) for d in rows
        ]
    )


def _first(status: str) -> Dispatch | None:
    return Dispatch.objects.filter(status=status).order_by("id").first()


def _run(customer, operator, plan) -> None:
    in_flight: list[int] = []
    for action, arg in plan:
        if action == "trigger":
            trigger(customer, arg)
        elif action == "claim":
            in_flight += dispatches_claim(
                limit=2, now=timezone.now() + timedelta(hours=arg)
            )
        elif action == "send":
            dispatches_send(ids=in_flight)
            in_flight = []
        elif action == "transient":
            _fail(in_flight, TransientError("flaky"))
            in_flight = []
        elif action == "permanent":
            _fail(in_flight, DeliveryError("refused"))
            in_flight = []
        elif action in ("delivered", "bounced"):
            if sent := _first(Status.SENT):
                services.dispatch_receipt_record(
                    dispatch=sent, event=action, provider="test"
                )
        elif action == "complaint":
            if sent := _first(Status.SENT) or _first(Status.DELIVERED):
                feedback_record(
                    dispatch=sent,
                    kind="complaint",
                    severity="medium",
                    text=f"wrong amount {timezone.now()}",
                    actor=operator,
                )
        elif action == "cancel":
            if queued := _first(Status.QUEUED):
                services.dispatch_cancel(dispatch=queued, actor=operator, reason="x")
        elif action == "retry" and (failed := _first(Status.FAILED)):
            services.dispatch_retry(dispatch=failed, actor=operator, reason="x")


def _direct_count() -> Counter:
    """Count the status history and the dispatches' creations by hour and day."""
    counts: Counter = Counter()
    rows = DispatchStatusChange.objects.values_list(
        "dispatch_id",
        "at",
        "dispatch__channel",
        "dispatch__communication__category",
        "dispatch__communication__template_code",
        "status",
    ).order_by("id")
    created = set()
    for dispatch_id, at, *key in rows:
        keys = [tuple(key)]
        if dispatch_id not in created:
            created.add(dispatch_id)
            keys.append((*key[:3], DispatchRollup.CREATED))
        for k in keys:
            counts[("hour", hour_start(at), *k)] += 1
            counts[("day", day_start(at), *k)] += 1
    return counts


def _labels_copied() -> tuple[list, list]:
    """Return the labels copied onto dispatches and feedback, and their sources."""
    from console.models import Feedback

    dispatches = Dispatch.objects.order_by("id")
    feedback = Feedback.objects.order_by("id")
    copied = (
        list(dispatches.values_list("id", "category")),
        list(feedback.values_list("id", "channel", "category", "template_code")),
    )
    sources = (
        list(dispatches.values_list("id", "communication__category")),
        list(
            feedback.values_list(
                "id",
                "dispatch__channel",
                "dispatch__communication__category",
                "dispatch__communication__template_code",
            )
        ),
    )
    return copied, sources


def _rollups() -> Counter:
    return Counter(
        {
            (span, start, channel, category, template, status): count
            for span, start, channel, category, template, status, count in (
                DispatchRollup.objects.values_list(
                    "span",
                    "start",
                    "channel",
                    "category",
                    "template_code",
                    "status",
                    "count",
                )
            )
            if count
        }
    )


@pytest.mark.filterwarnings("ignore")
@examples(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
@example(
    plan=[
        ("trigger", "payment-reminder"),
        ("trigger", "one-time-passcode"),
        ("trigger", "payment-reminder"),
        ("claim", 0),
        ("send", 0),
        ("delivered", 0),
        ("bounced", 0),
        ("complaint", 0),
        ("claim", 1),
        ("transient", 0),
        ("claim", 30),
        ("permanent", 0),
        ("retry", 0),
        ("trigger", "payment-reminder"),
        ("cancel", 0),
    ]
)
def test_rollups_equal_a_direct_count_after_any_mixed_run(
    demo_templates, settings, tmp_path, plan
):
    settings.SMS_PROVIDER, settings.SMS_FILE_DIR = "file", str(tmp_path)
    settings.TIME_ZONE = "Asia/Riyadh"
    with transaction.atomic():
        customer = customer_build("C-roll")
        operator = user_build(username="op-roll", role="Operator")
        _run(customer, operator, plan)
        assert _rollups() == _direct_count()
        # The dashboard filters dispatches and feedback by their own copies.
        copied, sources = _labels_copied()
        assert copied == sources
        # The recount for data older than the rollups gives the same figures.
        rollups_rebuild()
        assert _rollups() == _direct_count()
        transaction.set_rollback(True)
