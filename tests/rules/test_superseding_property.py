"""No sequence of triggers, claims, sends and retries ever sends a superseded message.

Template A (a payment reminder) is superseded by template B (sent with
`supersedes=[A]`) for the same correlation key, or for every key when B has
none. Random interleavings run through the real trigger path and the real
outbox (claim, send to the file SMS provider, transient failure back to the
queue), each example rolled back.
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from channels_app.backends import TransientError
from channels_app.models import Dispatch, DispatchStatusChange
from channels_app.outbox import (
    Outcome,
    dispatches_claim,
    dispatches_send,
    outcomes_record,
)
from tests.rules.conftest import customer_build, trigger

pytestmark = pytest.mark.django_db

A, B = "payment-reminder", "one-time-passcode"
Status = Dispatch.Status

keys = st.sampled_from(["K1", "K2", ""])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("A"), keys),
        st.tuples(st.just("B"), keys),
        st.tuples(st.just("claim"), st.integers(1, 3)),
        st.tuples(st.just("send"), st.just(0)),
        st.tuples(st.just("fail"), st.just(0)),
    ),
    min_size=1,
    max_size=10,
)


def _run(customer, plan) -> dict:
    """Play the plan; return when each communication was triggered and claimed."""
    # Claims look an hour ahead so that retries (backoff) are due again.
    later = timezone.now() + timedelta(hours=1)
    triggered: dict[int, tuple[int, str, str]] = {}  # comm id -> (step, kind, key)
    claimed_at: dict[int, int] = {}  # dispatch id -> step of its last claim
    in_flight: list[int] = []
    for step, (action, arg) in enumerate(plan):
        if action == "A":
            communication = trigger(customer, A, correlation_key=arg)
            triggered[communication.pk] = (step, "A", arg)
        elif action == "B":
            communication = trigger(customer, B, correlation_key=arg, supersedes=[A])
            triggered[communication.pk] = (step, "B", arg)
        elif action == "claim":
            ids = dispatches_claim(limit=arg, now=later)
            in_flight += ids
            claimed_at.update(dict.fromkeys(ids, step))
        elif action == "send":
            # A worker's pass: claim whatever is due, then send what is in flight.
            ids = dispatches_claim(limit=10, now=later)
            claimed_at.update(dict.fromkeys(ids, step))
            dispatches_send(ids=in_flight + ids)
            in_flight = []
        elif action == "fail" and in_flight:
            rows = Dispatch.objects.filter(
                id__in=in_flight, status=Status.SENDING
            ).select_related("communication")
            outcomes_record(
                outcomes=[
                    Outcome(
                        d,
                        d.attempt_count,
                        timezone.now(),
                        error=TransientError("flaky"),
                    )
                    for d in rows
                ]
            )
            in_flight = []
    return {"triggered": triggered, "claimed_at": claimed_at}


def _check(played: dict) -> None:
    triggered, claimed_at = played["triggered"], played["claimed_at"]
    superseders = [(s, key) for s, kind, key in triggered.values() if kind == "B"]
    for dispatch in Dispatch.objects.filter(communication__template_code=A):
        history = list(
            DispatchStatusChange.objects.filter(dispatch=dispatch)
            .order_by("id")
            .values_list("status", flat=True)
        )
        outcomes = [d["outcome"] for d in dispatch.rule_decisions]
        if "superseded" in outcomes:
            assert Status.SENT not in history, (dispatch, history)
            assert dispatch.status == Status.CANCELLED, dispatch
            cancel = history.index(Status.CANCELLED)
            assert history[cancel - 1] == Status.QUEUED, history
        if Status.SENT in history:
            # Sent only if no superseding B came between its trigger and its claim.
            trigger_step, _kind, key = triggered[dispatch.communication_id]
            claim_step = claimed_at[dispatch.pk]
            assert not [
                step
                for step, b_key in superseders
                if trigger_step < step < claim_step and b_key in ("", key)
            ], (dispatch, history, played)


@pytest.mark.filterwarnings("ignore")
@examples(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
# The race that only the due recheck catches: B arrives while A is in flight,
# and A's attempt fails back into the queue.
@example(plan=[("A", "K1"), ("claim", 1), ("B", "K1"), ("fail", 0), ("send", 0)])
@example(plan=[("A", "K2"), ("claim", 1), ("B", ""), ("fail", 0), ("send", 0)])
def test_no_superseded_message_is_ever_sent(templates, settings, tmp_path, plan):
    settings.SMS_PROVIDER, settings.SMS_FILE_DIR = "file", str(tmp_path)
    with transaction.atomic():
        customer = customer_build("C-prop")
        _check(_run(customer, plan))
        transaction.set_rollback(True)
