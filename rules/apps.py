from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RulesConfig(AppConfig):
    name = "rules"
    verbose_name = _("Communication rules")

    def ready(self) -> None:
        from audit.vocabulary import register

        # Before rule changes were reviewed, one operator created, changed and
        # deleted rules directly; the chain keeps those events.
        for verb in ("created", "changed", "deleted"):
            register(f"rules.rule.{verb}", f"A communication rule was {verb}.")
        for verb, meaning in {
            "proposed": "proposed (a new rule, a change or a retirement)",
            "approved": "approved by another operator and applied",
            "rejected": "rejected by another operator; the version in force stays",
            "withdrawn": "withdrawn by its proposer; the version in force stays",
        }.items():
            register(f"rules.rule.{verb}", f"A rule version was {meaning}.")
        for verb, meaning in {
            "deferred": "deferred by quiet hours or a frequency cap",
            "capped": "suppressed or deferred by a frequency cap",
            "superseded": "cancelled because a newer communication supersedes it",
            "deduplicated": "suppressed as a duplicate within a rule's window",
            "held": "held until the communication it waits for has been sent",
            "exempted": "exempted from a rule that would otherwise have applied",
        }.items():
            register(f"rules.dispatch.{verb}", f"A dispatch was {meaning}.")
