from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RulesConfig(AppConfig):
    name = "rules"
    verbose_name = _("Communication rules")

    def ready(self) -> None:
        from audit.vocabulary import register

        # Before rule changes were reviewed, one operator created, changed and
        # deleted rules directly; the chain keeps those events.
        register("rules.rule.created", _("A communication rule was created."))
        register("rules.rule.changed", _("A communication rule was changed."))
        register("rules.rule.deleted", _("A communication rule was deleted."))
        register(
            "rules.rule.proposed",
            _("A rule version was proposed (a new rule, a change or a retirement)."),
        )
        register(
            "rules.rule.approved",
            _("A rule version was approved by another operator and applied."),
        )
        register(
            "rules.rule.rejected",
            _(
                "A rule version was rejected by another operator; the "
                "version in force stays."
            ),
        )
        register(
            "rules.rule.withdrawn",
            _(
                "A rule version was withdrawn by its proposer; the version "
                "in force stays."
            ),
        )
        register(
            "rules.dispatch.deferred",
            _("A dispatch was deferred by quiet hours or a frequency cap."),
        )
        register(
            "rules.dispatch.capped",
            _("A dispatch was suppressed or deferred by a frequency cap."),
        )
        register(
            "rules.dispatch.superseded",
            _("A dispatch was cancelled because a newer communication supersedes it."),
        )
        register(
            "rules.dispatch.deduplicated",
            _("A dispatch was suppressed as a duplicate within a rule's window."),
        )
        register(
            "rules.dispatch.held",
            _(
                "A dispatch was held until the communication it waits for "
                "has been sent."
            ),
        )
        register(
            "rules.dispatch.exempted",
            _("A dispatch was exempted from a rule that would otherwise have applied."),
        )
