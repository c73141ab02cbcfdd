"""The inventory story in Debian's Chromium, as the demo author."""

import pytest
from django.conf import settings

from ccm.roles import AUTHOR, REVIEWER
from inventory.analysis import inventory_analyse
from templates_app.demo import demo_approved_seed
from templates_app.demo_duplicates import demo_duplicates_seed
from templates_app.models import Status, TemplateVersion
from tests.factories import user_build

pytestmark = pytest.mark.browser

PASSWORD = "pw-12345!x"  # noqa: S105 (tests.factories.user_build's)


def test_author_follows_a_near_duplicate_and_extracts_the_shared_paragraph(
    live_server, page
):
    author = user_build(username="author", role=AUTHOR)
    reviewer = user_build(username="reviewer", role=REVIEWER)
    second = user_build(username="reviewer-2", role=REVIEWER)
    demo_approved_seed(author=author, reviewer=reviewer, second_reviewer=second)
    demo_duplicates_seed(author=author, reviewer=reviewer)
    inventory_analyse()

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "author")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    # The inventory lists the demo templates, with the near-duplicates one click away.
    page.goto(f"{live_server.url}/admin/inventory/inventoryitem/")
    page.wait_for_selector("#result_list")
    assert "instalment-due-motor" in page.inner_text("#result_list")
    page.click("#inventory-nav-duplicates")
    page.wait_for_selector("#result_list")
    row = page.locator("#result_list tr", has_text="instalment-due-motor")
    assert "One paragraph" in row.inner_text()

    # The comparison shows both letters side by side, the changed paragraph marked.
    row.locator("a.inventory-compare").click()
    page.wait_for_selector("#inventory-compare")
    changed = page.locator("tr.change-replace, tr.change-insert, tr.change-delete")
    assert "roadside assistance" in changed.first.inner_text()
    page.screenshot(path=settings.VAR_DIR / "inventory-compare.png", full_page=True)

    # The shared care paragraph becomes a block.
    candidate = page.locator(
        "#inventory-shared-paragraphs .inventory-candidate",
        has_text="If you have any question about this instalment",
    )
    candidate.locator("a.inventory-extract-link").click()
    page.wait_for_selector("#inventory-extract-form")
    page.fill("#id_code", "instalment-care-line")
    page.fill("#id_name", "Instalment care line")
    page.click("#inventory-extract-submit")

    # The review queue shows the two new template drafts, submitted for review.
    page.wait_for_selector("ul.messagelist li")
    assert "instalment-care-line" in page.inner_text("ul.messagelist")
    queue = page.inner_text("#result_list")
    assert "instalment-due-motor" in queue and "instalment-due-home" in queue
    in_review = TemplateVersion.objects.filter(
        status=Status.IN_REVIEW, template__code__startswith="instalment-due-"
    )
    assert in_review.count() == 2
    for version in in_review:
        html = version.contents.get(channel="email", language="en").html
        assert '{{ block("instalment-care-line") }}' in html
