"""Django settings of the peer, django-post-office, for bench/peer_compare.py.

The peer runs in processes of its own with these settings: it shares no
INSTALLED_APPS, middleware or settings with the product. DATABASE_URL names
its scratch database and EMAIL_PORT the benchmark's SMTP sink.
"""

import os

import dj_database_url

SECRET_KEY = "bench-peer-only-" + "k" * 40
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "post_office",
]
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TEMPLATES = [
    {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
]
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "1025"))
DEFAULT_FROM_EMAIL = "Communication Control <noreply@example.com>"
# The product claims 500 due rows at a time; the peer reads as many a batch.
# Its default logging (a Log row per attempt) stands beside our audit trail.
POST_OFFICE = {
    "BATCH_SIZE": 500,
    "MESSAGE_ID_ENABLED": True,
    "MESSAGE_ID_FQDN": "example.com",
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"post_office": {"level": "WARNING"}},
}
