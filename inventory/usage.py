"""How much each template is used: sends in 30 and 365 days, last send, complaints.

One grouped query per figure over the dispatch status history, not one per
template: a send is the moment a dispatch became sent.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Max, Q

from channels_app.models import Dispatch, DispatchStatusChange
from console.models import Feedback


@dataclass
class Usage:
    sent_30: int = 0
    sent_365: int = 0
    last_sent: datetime | None = None
    complaints_365: int = 0

    @property
    def complaint_rate(self) -> float | None:
        if not self.sent_365:
            return None
        return round(self.complaints_365 / self.sent_365, 4)


def usage_by_template(now: datetime) -> dict[str, Usage]:
    """Return each sent template code's usage as of `now`."""
    month, year = now - timedelta(days=30), now - timedelta(days=365)
    usage: dict[str, Usage] = {}
    sends = (
        DispatchStatusChange.objects.filter(status=Dispatch.Status.SENT)
        .values(code=F("dispatch__communication__template_code"))
        .annotate(
            last=Max("at"),
            sent_30=Count("dispatch", distinct=True, filter=Q(at__gte=month)),
            sent_365=Count("dispatch", distinct=True, filter=Q(at__gte=year)),
        )
        .order_by()
    )
    for row in sends:
        usage[row["code"]] = Usage(
            sent_30=row["sent_30"], sent_365=row["sent_365"], last_sent=row["last"]
        )
    complaints = (
        Feedback.objects.filter(kind=Feedback.Kind.COMPLAINT, created__gte=year)
        .values(code=F("dispatch__communication__template_code"))
        .annotate(total=Count("id"))
        .order_by()
    )
    for row in complaints:
        usage.setdefault(row["code"], Usage()).complaints_365 = row["total"]
    return usage
