"""The review story in Debian's Chromium: submit, no self-approval, review, audit."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.urls import reverse

from templates_app.demo import demo_workflow_seed
from templates_app.models import Status, Template, TemplateVersion
from tests.signin import browser_sign_in

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


def _log_in(page, live_server, username):
    browser_sign_in(page, live_server.url, username, PASSWORD)
    page.wait_for_selector("#site-name")


def test_author_submits_reviewer_approves_and_the_audit_shows_the_story(
    live_server, browser, page, author, reviewer, second_reviewer
):
    demo_workflow_seed(
        author=author, reviewer=reviewer, second_reviewer=second_reviewer
    )
    reviewer.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="audit", codename="view_auditevent"
        )
    )
    draft = Template.objects.get(code="one-time-passcode").versions.get(
        status=Status.DRAFT
    )
    change = live_server.url + reverse(
        "admin:templates_app_templateversion_change", args=[draft.pk]
    )
    review = live_server.url + reverse(
        "admin:templates_app_templateversion_review", args=[draft.pk]
    )

    # The author submits the draft.
    _log_in(page, live_server, author.username)
    page.goto(change)
    page.click("#tpl-submit")
    page.wait_for_selector("ul.messagelist li.info")
    assert "In review" in page.inner_text("ul.messagelist li.info")

    # The author cannot approve: the review screen offers no decision.
    page.goto(review)
    page.wait_for_selector("#tpl-review-status")
    assert page.inner_text("#tpl-review-status") == "In review"
    assert page.locator("#tpl-approve").count() == 0

    # The reviewer sees the preview in every channel and language, and the diff.
    reviewer_context = browser.new_context(viewport={"width": 1366, "height": 1400})
    reviewer_page = reviewer_context.new_page()
    reviewer_page.set_default_timeout(15_000)
    try:
        _log_in(reviewer_page, live_server, reviewer.username)
        reviewer_page.goto(review)
        reviewer_page.wait_for_selector("#pane-sms-en")
        reviewer_page.wait_for_selector("#pane-sms-ar")
        assert "Do not share it." in reviewer_page.inner_text("#pane-sms-en")
        diff = reviewer_page.inner_text("#tpl-review-diff").replace("\xa0", " ")
        assert "Differences from v1" in diff and "Do not share it." in diff
        # Word by word: what was removed struck through, what was added marked.
        removed = reviewer_page.locator("#tpl-review-diff del").all_inner_texts()
        added = reviewer_page.locator("#tpl-review-diff ins").all_inner_texts()
        assert "Never" in " ".join(removed) and "Do not" in " ".join(added)
        reviewer_page.click("#tpl-source-diff summary")
        source = reviewer_page.inner_text("#tpl-source-diff").replace("\xa0", " ")
        assert "Never share it." in source
        reviewer_page.screenshot(
            path=settings.VAR_DIR / "review-screen.png", full_page=True
        )

        reviewer_page.fill("#id_comment", "Clearer wording, approved.")
        reviewer_page.click("#tpl-approve")
        reviewer_page.wait_for_selector("ul.messagelist li.info")
        assert "Approved" in reviewer_page.inner_text("#tpl-review-status")
        assert "Clearer wording, approved." in reviewer_page.inner_text(
            "#tpl-approvals"
        )

        # The audit browser shows the whole story.
        reviewer_page.goto(f"{live_server.url}/admin/audit/auditevent/?q=one-time")
        # Each action is shown by its meaning, its code kept as the tooltip.
        events = reviewer_page.inner_html("#result_list")
        for action in (
            "templates.version.created",
            "templates.version.submitted",
            "templates.version.approved",
            "templates.version.superseded",
        ):
            assert action in events, action
    finally:
        reviewer_context.close()
    draft.refresh_from_db()
    assert draft.status == Status.APPROVED


def test_an_arabic_reviewer_finds_the_block_and_the_version_in_the_queue_and_approves(
    live_server, browser, author, reviewer, second_reviewer
):
    from ccm.models import UserSettings
    from templates_app import services
    from templates_app.models import ContentBlock, ContentBlockVersion

    demo_workflow_seed(
        author=author, reviewer=reviewer, second_reviewer=second_reviewer
    )
    UserSettings.objects.create(user=reviewer, language="ar")
    block = ContentBlock.objects.order_by("code").first()
    draft = services.block_draft_create(block=block, author=author)
    services.block_submit(block_version=draft, actor=author)
    waiting = TemplateVersion.objects.get(status=Status.IN_REVIEW)

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        _log_in(page, live_server, reviewer.username)
        assert page.get_attribute("html", "dir") == "rtl"
        page.click("#tpl-review-queue-link a")
        page.wait_for_selector("#tpl-queue")
        rows = page.locator("#tpl-queue .tpl-queue-item")
        kinds = rows.evaluate_all("rows => rows.map(r => r.dataset.kind)")
        assert sorted(kinds) == ["block", "template"]
        assert waiting.template.code in page.inner_text("#tpl-queue")
        page.screenshot(path=settings.VAR_DIR / "review-queue-ar.png", full_page=True)

        page.click("#tpl-queue [data-kind=block] a")
        page.wait_for_selector("#tpl-approve")
        page.click("#tpl-approve")
        page.wait_for_selector("ul.messagelist li")
        draft.refresh_from_db()
        assert draft.status == Status.APPROVED
        page.goto(live_server.url + reverse("admin:templates_app_review_queue"))
        kinds = page.locator("#tpl-queue .tpl-queue-item").evaluate_all(
            "rows => rows.map(r => r.dataset.kind)"
        )
        assert kinds == ["template"]
    finally:
        context.close()
    assert ContentBlockVersion.objects.get(pk=draft.pk).status == Status.APPROVED
