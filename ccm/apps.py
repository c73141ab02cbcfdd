from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CcmConfig(AppConfig):
    name = "ccm"
    verbose_name = _("Communication Control")
