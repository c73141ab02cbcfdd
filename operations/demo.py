"""Demo figures for the operations dashboard, on top of the channels demo.

Today's figures come from the demo's real records. Feedback is recorded and
resolved through the console's and the lifecycle's services, and one template
is paused through the pause service. The thirteen days before today have no
records in a fresh demo database: their rollups are written as history (the
same mix as today, with a weekly shape and some noise), so the trends and the
previous period read like a working week. They are demo history only.
"""

import random
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from channels_app import lifecycle, pauses
from channels_app.models import Dispatch, DispatchRollup, Pause
from channels_app.rollups import day_start, rollups_add
from console.models import Feedback
from console.services import feedback_record

Status = Dispatch.Status
WORDS = {
    Feedback.Kind.COMPLAINT: [
        "The amount in the reminder is wrong.",
        "I paid last week and still got this reminder.",
        "The letter went to my old address.",
    ],
    Feedback.Kind.FEEDBACK: ["Please send this by SMS in future."],
    Feedback.Kind.COMPLIMENT: ["Clear message, thank you."],
}
# Busy weekdays, quiet Friday and Saturday.
WEEKDAY = [1.0, 1.05, 1.1, 0.95, 0.4, 0.35, 0.9]


def _feedback(agent, operator, rng: random.Random) -> None:
    delivered = list(
        Dispatch.objects.filter(status__in=[Status.SENT, Status.DELIVERED])
        .select_related("communication")
        .order_by("id")
    )
    kinds = [Feedback.Kind.COMPLAINT] * 3 + [
        Feedback.Kind.FEEDBACK,
        Feedback.Kind.COMPLIMENT,
    ]
    for n, dispatch in enumerate(delivered[::6]):
        kind = kinds[n % len(kinds)]
        severity = ["medium", "high", "critical", "low", "low"][n % 5]
        feedback = feedback_record(
            dispatch=dispatch,
            kind=kind,
            severity=severity if kind == Feedback.Kind.COMPLAINT else "low",
            text=rng.choice(WORDS[kind]),
            actor=agent,
        )
        # Most resolved at once by the agent who took the call; some by operations.
        if n % 3 != 2:
            lifecycle.escalation_resolve(
                escalation=feedback.escalation,
                actor=agent if n % 4 else operator,
                reason="demo: explained and corrected",
            )


def _history(rng: random.Random, days: int = 13) -> None:
    today = day_start(timezone.now())
    mix = list(
        DispatchRollup.objects.filter(span="day", start=today).values_list(
            "channel", "category", "template_code", "status", "count"
        )
    )
    entries = []
    for back in range(1, days + 1):
        day = today - timedelta(days=back) + timedelta(hours=12)
        shape = WEEKDAY[day.weekday()] * rng.uniform(0.8, 1.2)
        for channel, category, template, status, count in mix:
            for _ in range(round(count * shape)):
                # Office hours mostly: 07:00 to 21:00 local.
                at = day_start(day) + timedelta(
                    hours=rng.triangular(7, 21, 11), minutes=rng.uniform(0, 59)
                )
                entries.append((at, channel, category, template, status))
    rollups_add(entries)


@transaction.atomic
def operations_demo_seed(
    *, operator: AbstractBaseUser, agent: AbstractBaseUser
) -> None:
    """Add feedback, a pause and two weeks of history to the demo."""
    if Feedback.objects.exists() or Pause.objects.exists():
        return
    rng = random.Random(17)  # noqa: S311 (demo data, not security)
    _feedback(agent, operator, rng)
    _history(rng)
    if Dispatch.objects.filter(communication__template_code="policy-renewal-letter"):
        pauses.pause_start(
            scope="template",
            value="policy-renewal-letter",
            reason="demo: the renewal premium table is being corrected",
            actor=operator,
        )
