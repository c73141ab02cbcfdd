"""Panels that apps above the templates add to a template's admin page.

A template's owners (its authors and reviewers) should see what happened to
what they wrote: complaints, incidents. Those live in apps above this one, so
they register a loader here when they start (as the rules' history port
does); the template's page shows each panel a loader returns.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser

from templates_app.models import Template


@dataclass(frozen=True)
class Panel:
    """A piece of a template's page: the Django template to include, and its data."""

    template: str
    context: dict = field(default_factory=dict)


PanelLoader = Callable[[Template, AbstractBaseUser], Panel | None]
_loaders: list[PanelLoader] = []


def template_panel_register(loader: PanelLoader) -> None:
    """Add a panel to every template's page (once, however often apps start)."""
    if loader not in _loaders:
        _loaders.append(loader)


def template_panels(template: Template, user: AbstractBaseUser) -> list[Panel]:
    """Return the panels to show on this template's page to this user."""
    return [panel for loader in _loaders if (panel := loader(template, user))]
