"""Versions approved before settings were frozen keep verifying after the upgrade."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from templates_app import services
from templates_app.models import TemplateVersion

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("templates_app", "0004_workflow")]


def _legacy_hash(code: str, subject: str, html: str) -> str:
    """The content hash as it was computed before settings were covered."""
    return services._digest(
        {
            "template": code,
            "contents": [
                {
                    "channel": "email",
                    "language": "en",
                    "subject": subject,
                    "html": html,
                    "text": "",
                }
            ],
            "blocks": [],
        }
    )


def test_existing_versions_take_their_templates_settings_and_still_verify():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    user = apps.get_model("auth", "User").objects.create(username="old-author")
    category = apps.get_model("templates_app", "Category").objects.create(
        code="security", name="Security", kind="mandatory"
    )
    template = apps.get_model("templates_app", "Template").objects.create(
        code="otp",
        name="OTP",
        category=category,
        channels=["email"],
        default_language="ar",
        data_schema={"type": "object", "properties": {"code": {"type": "string"}}},
        sample_data={"code": "1234"},
    )
    old_version = apps.get_model("templates_app", "TemplateVersion")
    approved = old_version.objects.create(
        template=template,
        number=1,
        author=user,
        status="approved",
        content_hash=_legacy_hash("otp", "Code", "<p>{{ code }}</p>"),
    )
    apps.get_model("templates_app", "VersionContent").objects.create(
        version=approved,
        channel="email",
        language="en",
        subject="Code",
        html="<p>{{ code }}</p>",
    )

    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    version = TemplateVersion.objects.get(pk=approved.pk)
    assert version.category.code == "security"
    assert version.channels == ["email"]
    assert version.default_language == "ar"
    assert version.data_schema["properties"]["code"] == {"type": "string"}
    assert version.hash_scheme == 1
    assert services.version_hash_ok(version)
