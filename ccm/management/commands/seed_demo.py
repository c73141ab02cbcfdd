"""Create the demo users (one per role) and the demo content."""

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ccm import roles

DEMO_USERS = [
    # username, role, language, display name
    ("author", roles.AUTHOR, "en", "Amira Author"),
    ("reviewer", roles.REVIEWER, "en", "Rami Reviewer"),
    ("agent", roles.AGENT, "ar", "Aisha Agent"),
    ("operator", roles.OPERATOR, "en", "Omar Operator"),
    # A second operator: rule changes need another operator's approval.
    ("operator-2", roles.OPERATOR, "ar", "Nadia Operator"),
    # Two records managers: a legal hold or a shorter retention period one
    # places or proposes, the other releases or approves.
    ("records", roles.RECORDS_MANAGER, "en", "Reem Records"),
    ("records-2", roles.RECORDS_MANAGER, "ar", "Rashid Records"),
]


def demo_password(username: str) -> str:
    return f"ccm-{username}-demo"


def demo_totp_key(username: str) -> str:
    """The demo user's TOTP key (hex, 20 bytes): public, like the passwords."""
    return hashlib.sha1(f"ccm-{username}-demo-totp".encode()).hexdigest()  # noqa: S324


class Command(BaseCommand):
    help = "Create one demo user per role (password printed) and the demo content."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dispatches",
            type=int,
            default=300,
            help="How many demo dispatches to create (default 300).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Allow seeding when DEBUG is off (never on a real system).",
        )

    @transaction.atomic
    def handle(self, *args, force: bool = False, dispatches: int = 300, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with known passwords; refusing with DEBUG "
                "off (pass --force on a throw-away system)"
            )
        from ccm.models import UserSettings

        user_model = get_user_model()
        rows = []
        for username, role, language, full_name in DEMO_USERS:
            first, last = full_name.split(" ", 1)
            user, _ = user_model.objects.get_or_create(username=username)
            user.first_name, user.last_name = first, last
            user.email = f"{username}@demo.example.com"
            user.is_staff = True
            user.is_active = True
            user.set_password(demo_password(username))
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            UserSettings.objects.update_or_create(
                user=user, defaults={"language": language}
            )
            rows.append((username, demo_password(username), role))
        totp_rows = self._demo_devices(user_model)

        from channels_app.demo import demo_seed as channels_demo_seed
        from rules.demo import rules_demo_seed
        from templates_app.demo import demo_workflow_seed

        demo_workflow_seed(
            author=user_model.objects.get(username="author"),
            reviewer=user_model.objects.get(username="reviewer"),
        )
        # The default rules first, so the demo dispatches go through them.
        rules_demo_seed(
            proposer=user_model.objects.get(username="operator"),
            approver=user_model.objects.get(username="operator-2"),
        )
        total = channels_demo_seed(
            operator=user_model.objects.get(username="operator"),
            dispatches=dispatches,
        )
        from operations.demo import operations_demo_seed

        operations_demo_seed(
            operator=user_model.objects.get(username="operator"),
            agent=user_model.objects.get(username="agent"),
        )
        self.stdout.write(f"Demo dispatches: {total}")

        from retention.demo import retention_demo_seed

        retention_demo_seed(proposer=user_model.objects.get(username="records"))

        from inventory.analysis import inventory_analyse
        from templates_app.demo_duplicates import demo_duplicates_seed
        from templates_app.demo_notices import demo_notices_seed

        demo_notices_seed(
            author=user_model.objects.get(username="author"),
            reviewer=user_model.objects.get(username="reviewer"),
        )

        demo_duplicates_seed(
            author=user_model.objects.get(username="author"),
            reviewer=user_model.objects.get(username="reviewer"),
        )
        run = inventory_analyse()
        self.stdout.write(
            f"Inventory: {run.items} templates and blocks, {run.pairs} near-duplicates"
        )

        self.stdout.write(self.style.SUCCESS("Demo users (sign in at /admin/):"))
        for username, password, role in rows:
            self.stdout.write(f"  {username:<10} {password:<22} {role}")
        self.stdout.write(
            self.style.SUCCESS(
                "Their authenticator apps (reviewers and operators give a code "
                "after the password; add the key to any TOTP app, or run "
                "`manage.py demo_totp_code USER`):"
            )
        )
        for username, secret, url in totp_rows:
            self.stdout.write(f"  {username:<10} {secret}  {url}")

    @staticmethod
    def _demo_devices(user_model) -> list[tuple[str, str, str]]:
        """A confirmed TOTP device with a known key for each demo user who
        must sign in with a second factor (MFA_REQUIRED_ROLES)."""
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from accounts.mfa import device_secret, second_factor_required

        rows = []
        for username, *_ in DEMO_USERS:
            user = user_model.objects.get(username=username)
            if not second_factor_required(user):
                continue
            TOTPDevice.objects.filter(user=user).delete()
            device = TOTPDevice.objects.create(
                user=user,
                name="Demo authenticator",
                key=demo_totp_key(username),
                confirmed=True,
            )
            rows.append((username, device_secret(device), device.config_url))
        return rows
