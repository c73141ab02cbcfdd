from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TemplatesAppConfig(AppConfig):
    name = "templates_app"
    verbose_name = _("Templates")

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from audit.vocabulary import register
        from templates_app.render_limits import request_budget_end, request_budget_start

        # Every render of one web request (a save validating fifty drafts)
        # shares one budget.
        request_started.connect(request_budget_start, dispatch_uid="render_budget")
        request_finished.connect(request_budget_end, dispatch_uid="render_budget")

        register(
            "templates.version.approval_recorded",
            _("A reviewer approved a template version that needs more approvals."),
        )
        register(
            "templates.block.approval_recorded",
            _("A reviewer approved a content block version that needs more approvals."),
        )
        register("templates.category.created", _("A category was created."))
        register("templates.category.changed", _("A category was changed."))
        register("templates.template.created", _("A template was created."))
        register("templates.template.changed", _("A template was changed."))
        register(
            "templates.content_block.created",
            _("A content block (its code, name or description) was created."),
        )
        register(
            "templates.content_block.changed",
            _("A content block (its code, name or description) was changed."),
        )
        for verb, meaning in {
            "change_proposed": "was proposed; it waits for another user's approval",
            "change_approved": "was approved by a second user and applied",
            "change_rejected": "was rejected",
            "change_withdrawn": "was withdrawn by its proposer",
        }.items():
            register(
                f"templates.category.{verb}",
                f"A change of a category's kind or required approvals {meaning}.",
            )
        register(
            "templates.version.recertified",
            _("A reviewer re-certified an approved version in force, unchanged."),
        )
