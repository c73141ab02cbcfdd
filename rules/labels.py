"""What the central rules decided, in words: labels for the stored codes."""

from django.utils.translation import gettext_lazy as _

# A rule's outcome for a dispatch, as stored in its rule decisions and traces.
RULE_OUTCOMES = {
    "passes": _("passes"),
    "deferred": _("deferred"),
    "capped": _("capped"),
    "superseded": _("superseded"),
    "deduplicated": _("deduplicated"),
    "exempted": _("exempted"),
    "held": _("held"),
    "suppressed": _("suppressed"),
    "cancelled": _("cancelled"),
    "queued": _("queued"),
}
# When a rule decision was taken: as the dispatch was queued, or when it fell due.
RULE_STAGES = {"queue": _("when queued"), "due": _("when due")}
# The kind of a traced step that is not a configured rule.
STEP_KINDS = {"sequencing": _("Sequencing")}


def outcome_label(outcome: str) -> str:
    """Return the translated name of a rule outcome; an unknown one as stored."""
    return str(RULE_OUTCOMES.get(outcome, outcome))


def step_kind_label(kind) -> str:
    """Return the translated kind of a traced step (a rule's kind is already one)."""
    return str(STEP_KINDS.get(kind, kind))


def stage_label(stage: str) -> str:
    """Return when a rule decision was taken, in words; an unknown stage as stored."""
    return str(RULE_STAGES.get(stage, stage))
