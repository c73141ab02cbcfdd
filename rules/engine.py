"""Central communication rules, applied to every dispatch in bulk.

(Work in progress: the rules hold nothing yet.)
"""

from collections.abc import Sequence
from datetime import datetime

from channels_app.models import Dispatch


def trigger_evaluate(*, dispatches: Sequence[Dispatch], now: datetime) -> None:
    """Apply the rules to new dispatches before they are rendered and queued.

    `dispatches` are unsaved, each with its saved `communication` (customer
    loaded). Called once per trigger call (one or many communications) inside
    its transaction. Mutates each dispatch in place: a later `due_at`
    (deferred), status SUPPRESSED (capped, deduplicated), and appends to
    `rule_decisions`. Cancels pending dispatches that a new communication
    supersedes.
    """


def due_recheck(*, ids: Sequence[int], now: datetime) -> set[int]:
    """Re-apply the rules to claimable dispatches; return the ids held back.

    Called inside the claim transaction with the rows already locked. Held
    dispatches have been moved (deferred, cancelled or suppressed) with their
    decision recorded; the caller must not claim them.
    """
    return set()
