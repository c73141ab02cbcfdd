"""Gunicorn's settings a command line cannot give: it logs as the app does.

The Procfile's web process loads this (`-c python:ccm.gunicorn_config`), so
gunicorn's own lines (start, worker boot, timeouts) and its access log are
written by settings.LOGGING's handler: JSON lines in production, each access
line with the X-Correlation-ID of its response. The access log's format
stays on the Procfile's command line.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")

from django.conf import settings  # noqa: E402 (after the settings module is named)

from ccm.logs import gunicorn_logconfig  # noqa: E402

logconfig_dict = gunicorn_logconfig(settings.LOGGING)
