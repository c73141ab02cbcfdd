"""Central communication rules, applied to every dispatch in bulk.

(Work in progress: the due-time check holds nothing yet.)
"""

from collections.abc import Sequence
from datetime import datetime


def due_recheck(*, ids: Sequence[int], now: datetime) -> set[int]:
    """Re-apply the rules to claimable dispatches; return the ids held back.

    Called inside the claim transaction with the rows already locked. Held
    dispatches have been moved (deferred, cancelled or suppressed) with their
    decision recorded; the caller must not claim them.
    """
    return set()
