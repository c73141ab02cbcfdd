"""Which audit events carry personal data, who may read them, and whose it is.

An event is as private as what it is about: a dispatch's events name the
address it went to, a customer's their name. Apps register such models in
`AppConfig.ready()`:

- `subjects_private_register`: the audit browser shows their events only to
  who may view that model (its `view_` permission). Events about anything
  else are shown to every reader of the audit trail.
- `personal_fields_register`: which parts of their events are personal data
  (keys of before/after, the subject label, the free-text reason) and which
  data subject they belong to. Those parts are stored sealed under that data
  subject's key (`audit.sealing`), so destroying the key erases them from the
  trail without changing a hash.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class PersonalFields:
    """The personal parts of one model's events, and whose they are.

    `owner` returns the data subject's name ("customer:42") from the subject
    instance without a query (read attributes already loaded), or None when
    the event belongs to nobody in particular.
    """

    owner: Callable[[models.Model], str | None]
    fields: frozenset[str] = frozenset()
    label: bool = False
    reason: bool = False


_personal: dict[tuple[str, str], PersonalFields] = {}


def personal_fields_register(
    model: type[models.Model],
    *,
    owner: Callable[[models.Model], str | None],
    fields: Iterable[str] = (),
    label: bool = False,
    reason: bool = False,
) -> None:
    """Declare the personal parts of `model`'s events and whose key seals them."""
    _personal[(model._meta.app_label, model._meta.model_name)] = PersonalFields(
        owner=owner, fields=frozenset(fields), label=label, reason=reason
    )


def personal_fields_for(subject: models.Model | None) -> PersonalFields | None:
    """Return the registered personal parts of events about `subject`, if any."""
    if subject is None:
        return None
    meta = subject._meta
    return _personal.get((meta.app_label, meta.model_name))
