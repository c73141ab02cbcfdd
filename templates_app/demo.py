"""Demo content: bilingual templates and content blocks for a fresh install."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from audit.services import event_record
from templates_app import selectors, services
from templates_app.categories import category_create
from templates_app.demo_content import (  # noqa: F401 (re-exported)
    ARABIC_NAMES,
    BLOCKS,
    CATEGORIES,
    CUSTOMER_SCHEMA,
    RETIRED_TEMPLATE,
    TEMPLATES,
)
from templates_app.models import Category, ContentBlock, Status, Template
from templates_app.validation import ContentDraft


def _template_create(spec: dict, category: Category, author: AbstractBaseUser):
    template = Template(
        code=spec["code"],
        name=spec["name"],
        name_ar=ARABIC_NAMES.get(spec["code"], ""),
        category=category,
        description=spec["description"],
        channels=spec["channels"],
        default_language=spec["default_language"],
        data_schema=spec["data_schema"],
        sample_data=spec["sample_data"],
        digits=spec.get("digits", Template.digits.field.default),
        calendar=spec.get("calendar", Template.calendar.field.default),
    )
    services.template_save(template=template, actor=author)
    version = services.version_draft_create(template=template, author=author)
    services.version_content_save(
        version=version,
        contents=[
            ContentDraft(channel=channel, language=language, fields=fields)
            for channel, language, fields in spec["contents"]
        ],
        actor=author,
    )
    return template


def _grant(category: Category, permission: str, user: AbstractBaseUser) -> None:
    if not user.has_perm(f"templates_app.{permission}", category):
        services.category_permission_grant(
            category=category, permission=permission, user=user, actor=None
        )
        # Permission checks cache per user object; the next check must see it.
        for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
            user.__dict__.pop(cache, None)


def demo_seed(*, author: AbstractBaseUser) -> None:
    """Create the demo categories, blocks and templates unless they exist.

    The author is granted authoring in the demo categories, which every
    template write requires.
    """
    with transaction.atomic():
        categories = {}
        for spec in CATEGORIES:
            category = Category.objects.filter(
                code=spec["code"]
            ).first() or category_create(actor=None, **spec)
            categories[spec["code"]] = category
            _grant(category, selectors.AUTHOR, author)
        for code, spec in BLOCKS.items():
            block = ContentBlock.objects.filter(code=code).first() or (
                services.block_save(
                    block=ContentBlock(
                        code=code,
                        name=spec["name"],
                        name_ar=ARABIC_NAMES[code],
                        category=categories[spec["category"]],
                    ),
                    actor=None,
                )
            )
            if block.versions.exists():
                continue
            version = services.block_draft_create(block=block, author=author)
            services.block_content_save(
                block_version=version,
                contents=[
                    (language, html, text)
                    for language, (html, text) in spec["contents"].items()
                ],
                actor=author,
            )
        for spec in TEMPLATES:
            if not Template.objects.filter(code=spec["code"]).exists():
                _template_create(spec, categories[spec["category"]], author)


def _block_reviewer_ensure(reviewer: AbstractBaseUser) -> None:
    """Let a demo reviewer review content blocks (the Reviewer role grants it)."""
    if reviewer.has_perm("templates_app.review_contentblock"):
        return
    reviewer.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="templates_app", codename="review_contentblock"
        )
    )
    event_record(
        action="auth.permission.granted",
        subject=reviewer,
        after={"permission": "templates_app.review_contentblock"},
    )
    reviewer.__dict__.pop("_perm_cache", None)
    reviewer.__dict__.pop("_user_perm_cache", None)


def _approve(version, reviewers) -> None:
    required = version.category.required_approvals
    for reviewer in reviewers[: max(required, 1)]:
        services.version_approve(
            version=version, actor=reviewer, comment="Checked against policy."
        )


def _redraft(version, author, change) -> object:
    """Start a draft from `version` and apply `change(field, text)` to its text."""
    draft = services.version_draft_create(
        template=version.template, author=author, source=version
    )
    contents = services.contents_of(draft)
    for content in contents:
        content.fields = {
            name: change(name, text) for name, text in content.fields.items()
        }
    services.version_content_save(version=draft, contents=contents, actor=author)
    return draft


def _second_reviewer() -> AbstractBaseUser:
    user, created = get_user_model().objects.get_or_create(
        username="reviewer-2",
        defaults={"email": "reviewer-2@demo.example.com", "is_staff": True},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def demo_approved_seed(
    *,
    author: AbstractBaseUser,
    reviewer: AbstractBaseUser,
    second_reviewer: AbstractBaseUser | None = None,
) -> dict[str, Template]:
    """Seed the demo content and approve it through the workflow, in force now.

    The reviewers are granted review in every demo category; a category that
    needs two approvals gets the second from `second_reviewer` (a demo user
    "reviewer-2" without a password when none is given).
    """
    second_reviewer = second_reviewer or _second_reviewer()
    reviewers = [reviewer, second_reviewer]
    with transaction.atomic():
        demo_seed(author=author)
        for category in Category.objects.filter(
            code__in=[spec["code"] for spec in CATEGORIES]
        ):
            for user in reviewers:
                _grant(category, selectors.REVIEW, user)
        _block_reviewer_ensure(reviewer)
        for code in BLOCKS:
            block = ContentBlock.objects.get(code=code)
            if block.versions.filter(status=Status.APPROVED).exists():
                continue
            draft = block.versions.order_by("-number").first()
            if draft.status == Status.DRAFT:
                draft = services.block_submit(block_version=draft, actor=author)
            services.block_approve(
                block_version=draft, actor=reviewer, comment="Wording approved."
            )
        for spec in TEMPLATES:
            template = Template.objects.get(code=spec["code"])
            if template.versions.exclude(status=Status.DRAFT).exists():
                continue
            version = template.versions.get(number=1)
            services.version_submit(version=version, actor=author)
            _approve(version, reviewers)
    return {
        template.code: template
        for template in Template.objects.filter(
            code__in=[spec["code"] for spec in TEMPLATES]
        )
    }


def demo_workflow_seed(
    *,
    author: AbstractBaseUser,
    reviewer: AbstractBaseUser,
    second_reviewer: AbstractBaseUser | None = None,
) -> dict[str, Template]:
    """Seed templates in every workflow state; running it again changes nothing.

    The three demo templates end approved and in force, with their blocks
    approved. Besides: payment-reminder v2 rejected and v3 in review,
    policy-renewal-letter v2 approved from 30 days on, one-time-passcode v2 a
    draft, and branch-closure-notice v1 retired.
    """
    second_reviewer = second_reviewer or _second_reviewer()
    reviewers = [reviewer, second_reviewer]
    with transaction.atomic():
        templates = demo_approved_seed(
            author=author, reviewer=reviewer, second_reviewer=second_reviewer
        )

        reminder = templates["payment-reminder"]
        if reminder.versions.count() == 1:
            rejected = _redraft(
                reminder.versions.get(number=1),
                author,
                lambda name, text: text.replace("Pay now", "Pay immediately"),
            )
            services.version_submit(version=rejected, actor=author)
            services.version_reject(
                version=rejected,
                actor=reviewer,
                comment="Too pushy for a first reminder; keep 'Pay now'.",
            )
            in_review = _redraft(
                rejected,
                author,
                lambda name, text: text.replace("Pay immediately", "Pay online"),
            )
            services.version_submit(
                version=in_review, actor=author, comment="Softer wording."
            )

        renewal = templates["policy-renewal-letter"]
        if renewal.versions.count() == 1:
            future = _redraft(
                renewal.versions.get(number=1),
                author,
                lambda name, text: text.replace("Customer Care", "Customer Service"),
            )
            start = timezone.now() + timedelta(days=30)
            services.version_schedule_set(
                version=future, actor=author, effective_from=start, effective_until=None
            )
            services.version_submit(version=future, actor=author)
            _approve(future, reviewers)

        passcode = templates["one-time-passcode"]
        if passcode.versions.count() == 1:
            _redraft(
                passcode.versions.get(number=1),
                author,
                lambda name, text: text.replace("Never share it.", "Do not share it."),
            )

        if not Template.objects.filter(code=RETIRED_TEMPLATE["code"]).exists():
            category = Category.objects.get(code=RETIRED_TEMPLATE["category"])
            retired = _template_create(RETIRED_TEMPLATE, category, author)
            version = retired.versions.get(number=1)
            services.version_submit(version=version, actor=author)
            _approve(version, reviewers)
            services.version_retire(
                version=version, actor=reviewer, comment="The branch has closed."
            )
    return {template.code: template for template in Template.objects.all()}
