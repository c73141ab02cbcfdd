"""What a trigger asks for (`TriggerRequest`) and why one is refused (`TriggerRefused`).

Shared by the trigger path (`channels_app.dispatching`), batches and the
queued API triggers (`channels_app.intake`).
"""

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ccm.problems import Problem
from channels_app import incidents
from channels_app.models import Channel, Communication
from customers.models import Customer
from templates_app.validation import schema_validator

# The order `auto` tries channels in, among those the template supports.
FALLBACK_ORDER = (Channel.EMAIL, Channel.SMS, Channel.LETTER)
AUTO = "auto"


class TriggerRefused(Exception):
    """The trigger cannot be honoured; `problems` maps each field to its problems.

    Each is a `Problem` (code and parameters), worded when shown.
    `render_failure` is set when an approved template failed to render data
    its schema accepted: the template's fault, an incident for operations.
    """

    def __init__(
        self,
        problems: dict[str, list[Problem]],
        *,
        render_failure: incidents.RenderFailure | None = None,
    ):
        self.problems = problems
        self.render_failure = render_failure
        super().__init__(problems)

    def __str__(self) -> str:
        return "; ".join(
            f"{field}: {' '.join(map(str, found))}"
            for field, found in self.problems.items()
        )

    def as_stored(self) -> dict[str, list[dict]]:
        """Return the problems as stored on a batch row: codes and parameters."""
        return {
            field: [problem.as_stored() for problem in found]
            for field, found in self.problems.items()
        }


@dataclass
class TriggerRequest:
    """One communication to trigger, as one row of a bulk call."""

    template_code: str
    customer: Customer
    data: dict
    channels: Sequence[str] | str = AUTO
    source_system: str = ""
    source_reference: str = ""
    idempotency_key: str = ""
    scheduled_for: datetime | None = None
    scope: str = ""
    correlation_key: str = ""
    supersedes: Sequence[str] = field(default_factory=list)
    waits_for: Sequence[str] = field(default_factory=list)
    reissue_of: Communication | None = None
    reason: str = ""
    # Given when the client already holds the id (a queued trigger's).
    public_id: uuid.UUID | None = None


@functools.lru_cache(maxsize=128)
def schema_validator_cached(schema_json: str):
    """One validator per data schema (by its JSON text), reused by each trigger."""
    return schema_validator(json.loads(schema_json))
