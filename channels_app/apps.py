from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = _("Channels and dispatch")

    def ready(self) -> None:
        from audit.privacy import personal_fields_register, subjects_private_register
        from audit.vocabulary import register
        from rules.history import history_source_register

        from . import models, rule_history

        history_source_register(rule_history)

        # A version that leaves force here is not reused to check a queued
        # trigger (other processes read it again within seconds).
        from templates_app import signals

        from .intake import intake_templates_forget

        for signal in (
            signals.version_approved,
            signals.version_retired,
            signals.version_superseded,
        ):
            signal.connect(intake_templates_forget, dispatch_uid=f"intake-{signal!r}")

        # Their events name customers, addresses and what was said to them.
        subjects_private_register(
            models.Communication,
            models.Dispatch,
            models.DispatchStatusChange,
            models.DispatchAttempt,
            models.Escalation,
            models.Batch,
            models.BatchRow,
        )

        # Sealed under the customer's audit key (docs/audit.md).
        personal_fields_register(
            models.Communication,
            owner=lambda communication: f"customer:{communication.customer_id}",
            reason=True,
        )
        personal_fields_register(
            models.Dispatch,
            # Every writer has the dispatch's communication loaded.
            owner=lambda dispatch: f"customer:{dispatch.communication.customer_id}",
            fields=("address", "error", "detail", "customer"),
            reason=True,
        )
        personal_fields_register(
            models.Escalation,
            owner=lambda escalation: (
                f"customer:{escalation.dispatch.communication.customer_id}"
            ),
            reason=True,
        )

        register("channels.dispatch.retried", _("An operator queued a dispatch again."))
        register(
            "channels.escalation.resolved", _("An operator resolved an escalation.")
        )
        register("channels.batch.created", _("A batch run was stored with its rows."))
        register("channels.batch.finished", _("A batch run processed all its rows."))
        register(
            "channels.batch.failed", _("A batch run stopped on an unexpected error.")
        )
        register("channels.batch.resumed", _("An operator resumed a failed batch run."))
        register("channels.incident.opened", _("An error opened an incident."))
        register(
            "channels.incident.escalated",
            _("An error joined an open incident at a higher severity."),
        )
        register(
            "channels.incident.acknowledged", _("An operator acknowledged an incident.")
        )
        register(
            "channels.incident.changed",
            _("An operator changed an incident's owner, notes or root cause."),
        )
        register("channels.incident.resolved", _("An operator resolved an incident."))
        register(
            "channels.severity_policy.changed",
            _("An operator set a severity's deadline, owner group or notification."),
        )
        register(
            "channels.pause.started",
            _("An operator paused a template, category, channel or batch run."),
        )
        register(
            "channels.pause.resumed",
            _("An operator resumed a pause; its held dispatches go out."),
        )
