"""Print a demo user's current sign-in code (the demo only: DEBUG on)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP

from accounts.mfa import confirmed_device


class Command(BaseCommand):
    help = "Print the code a user's authenticator app shows now (DEBUG only)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        if not settings.DEBUG:
            raise CommandError(
                "demo_totp_code reads a second factor from the database; refusing "
                "with DEBUG off"
            )
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=username).first()
        device = confirmed_device(user) if user else None
        if device is None:
            raise CommandError(f"{username!r} has no authenticator app enrolled")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
