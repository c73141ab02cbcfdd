"""The subjects whose audit events carry personal data.

An event is as private as what it is about: a dispatch's events name the
address it went to, a customer's their name. Apps register such models in
`AppConfig.ready()`; the audit browser shows their events only to who may view
that model (its `view_` permission). Events about anything else are shown to
every reader of the audit trail.
"""

from django.db import models

_private: set[tuple[str, str]] = set()


def subjects_private_register(*subjects: type[models.Model]) -> None:
    """Register models whose events only who may view the model may read."""
    _private.update(
        (model._meta.app_label, model._meta.model_name) for model in subjects
    )


def subjects_unreadable(user) -> list[tuple[str, str]]:
    """Return the private subjects (app label, model) `user` may not read about."""
    return sorted(
        (app_label, model)
        for app_label, model in _private
        if not user.has_perm(f"{app_label}.view_{model}")
    )
