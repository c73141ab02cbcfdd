"""Where the rules' dry run reads customer history from: a port the channels fill.

The rules are a pure evaluator below the channels: they never read
dispatches. The channels app registers the module that does
(`channels_app.rule_history`) when it starts; the dry run, shown in the rules'
admin, reads the history through this port.
"""

from datetime import datetime
from typing import Protocol

from customers.models import Customer
from rules.evaluation import Candidate, Context
from rules.models import RuleVersion


class HistorySource(Protocol):
    def context_load(
        self,
        *,
        candidates: list[Candidate],
        stage: str,
        now: datetime,
        rules: list[RuleVersion],
        revision: int,
        kinds: dict[str, str],
    ) -> Context: ...

    def would_cancel(
        self, *, customer: Customer, supersedes: list[str], correlation_key: str
    ) -> list: ...


_source: HistorySource | None = None


def history_source_register(source: HistorySource) -> None:
    """Name the module that loads customer history for the rules."""
    global _source
    _source = source


def history_source() -> HistorySource:
    """Return the registered history loader; the channels app must be installed."""
    if _source is None:
        raise RuntimeError("no history source: is channels_app installed?")
    return _source
