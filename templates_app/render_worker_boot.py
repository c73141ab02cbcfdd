"""Warm the render workers' fork server: Django, the sandbox and WeasyPrint.

Imported once, by the fork server of `templates_app.render_worker`, so every
render child starts with all of this loaded. A failure here only makes the
children set Django up themselves.
"""

try:
    import django

    django.setup()
    from templates_app import letters, preview_jobs  # noqa: F401

    letters.warm()
except Exception:  # noqa: BLE001, S110 (the children set up again if this failed)
    pass
