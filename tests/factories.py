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


def approved_version_build(*, code: str = "payment-reminder"):
    """Return the approved version in force of a demo template."""
    from templates_app.selectors import version_in_force

    return version_in_force(demo_templates_approved()[code])


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
        category=communication.category,
        language=fields.pop("language", "en"),
        address=customer.address_for(channel),
        status_changed=now,
        due_at=fields.pop("due_at", now),
        subject=fields.pop("subject", "Your payment is due"),
        body_text=body,
        body_html=fields.pop("body_html", f"<p>{body}</p>"),
        content_sha256=hashlib.sha256(body.encode()).hexdigest(),
        **fields,
    )


def demo_templates_approved() -> dict:
    """Seed the demo templates, approved through the workflow and in force now."""
    from django.contrib.auth import get_user_model

    from templates_app.demo import demo_approved_seed

    def superuser(username: str):
        user, _ = get_user_model().objects.get_or_create(
            username=username,
            defaults={
                "is_staff": True,
                "is_superuser": True,
                "email": f"{username}@example.com",
            },
        )
        return user

    return demo_approved_seed(
        author=superuser("demo-author"),
        reviewer=superuser("demo-reviewer"),
        second_reviewer=superuser("demo-reviewer-2"),
    )


def _operator(username: str):
    """Return a superuser standing for one operator of the rule reviews."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=username,
        defaults={
            "is_staff": True,
            "is_superuser": True,
            "email": f"{username}@example.com",
        },
    )
    return user


def rule_build(*, reason: str = "test", **fields):
    """Create a rule proposed by one operator and approved by another; return it.

    The returned version is the one in force (what the evaluation reads).
    """
    from rules.demo import rule_seed_approved

    return rule_seed_approved(
        proposer=_operator("rules-proposer"),
        approver=_operator("rules-approver"),
        reason=reason,
        **fields,
    )


def rule_change_build(version, *, reason: str = "test", **changes):
    """Propose a change to a version's rule and approve it; return the new version."""
    from rules.services import rule_propose, rule_version_approve

    proposed = rule_propose(
        actor=_operator("rules-proposer"), rule=version.rule, reason=reason, **changes
    )
    return rule_version_approve(version=proposed, actor=_operator("rules-approver"))
