from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TemplatesAppConfig(AppConfig):
    name = "templates_app"
    verbose_name = _("Templates")

    def ready(self) -> None:
        from audit.vocabulary import register

        register(
            "templates.version.approval_recorded",
            "A reviewer approved a template version that needs more approvals.",
        )
        register(
            "templates.block.approval_recorded",
            "A reviewer approved a content block version that needs more approvals.",
        )
        for subject, noun in (
            ("category", "A category"),
            ("template", "A template"),
            ("content_block", "A content block (its code, name or description)"),
        ):
            register(f"templates.{subject}.created", f"{noun} was created.")
            register(f"templates.{subject}.changed", f"{noun} was changed.")
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
            "A reviewer re-certified an approved version in force, unchanged.",
        )
