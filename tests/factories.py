"""Builders for the objects tests need; no JSON fixtures."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


def user_build(
    *, username: str, role: str | None = None, password: str = "pw-12345!x", **fields
):
    """Create a staff user, optionally in a role group, with a known password."""
    user = get_user_model().objects.create_user(
        username=username,
        password=password,
        email=fields.pop("email", f"{username}@example.com"),
        is_staff=fields.pop("is_staff", True),
        **fields,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def approved_version_build(*, code: str = "payment-reminder", author=None):
    """Create a category, a template and an approved email/SMS version of it."""
    from templates_app.models import Category, Template, TemplateVersion

    author = author or user_build(username=f"author-{code}")
    category, _ = Category.objects.get_or_create(
        code="billing", defaults={"name": "Billing"}
    )
    template = Template.objects.create(
        code=code,
        name=code.replace("-", " ").title(),
        category=category,
        channels=["email", "sms"],
        default_language="en",
        data_schema={"type": "object"},
        sample_data={},
    )
    return TemplateVersion.objects.create(
        template=template, number=1, status="approved", author=author
    )


def dispatch_build(*, version, customer, channel: str = "email", **fields):
    """Create a communication with one queued, already rendered dispatch."""
    import hashlib

    from django.utils import timezone

    from channels_app.models import Communication, Dispatch

    communication = Communication.objects.create(
        template_code=version.template.code,
        category=version.template.category.code,
        template_version=version,
        customer=customer,
        data={},
        requester_label="test",
    )
    body = fields.pop("body_text", f"Hello {customer.name}")
    now = timezone.now()
    return Dispatch.objects.create(
        communication=communication,
        channel=channel,
        language="en",
        address=customer.address_for(channel),
        status_changed=now,
        due_at=fields.pop("due_at", now),
        subject=fields.pop("subject", "Your payment is due"),
        body_text=body,
        body_html=fields.pop("body_html", f"<p>{body}</p>"),
        content_sha256=hashlib.sha256(body.encode()).hexdigest(),
        **fields,
    )


def demo_templates_approved(*, author=None) -> dict:
    """Seed the demo templates and mark their first versions approved.

    Test-only shortcut past the review workflow: the hash is stamped as the
    approval service stamps it, so sends verify it as they would in production.
    """
    from templates_app.demo import demo_seed
    from templates_app.models import ContentBlockVersion, Template, TemplateVersion
    from templates_app.services import block_version_hash, version_hash

    author = author or user_build(username="demo-author")
    demo_seed(author=author)
    for block_version in ContentBlockVersion.objects.all():
        block_version.status = "approved"
        block_version.content_hash = block_version_hash(block_version)
        block_version.save()
    for version in TemplateVersion.objects.select_related("template"):
        version.status = "approved"
        version.content_hash = version_hash(version)
        version.save()
    return {template.code: template for template in Template.objects.all()}
