"""In Chromium, a dispatch page mixing Arabic and Latin reads right in each language.

Screenshots land in $CCM_VAR_DIR/screens/ to be looked at.
"""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from ccm.management.commands.seed_demo import demo_password
from ccm.models import UserSettings
from channels_app.models import Dispatch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Where in a text node a substring starts on screen (its first character's box).
CHAR_LEFT = """([selector, needle]) => {
  const element = document.querySelector(selector);
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const at = walker.currentNode.data.indexOf(needle);
    if (at >= 0) {
      const range = document.createRange();
      range.setStart(walker.currentNode, at);
      range.setEnd(walker.currentNode, at + 1);
      return range.getBoundingClientRect().left;
    }
  }
  return null;
}"""


@pytest.fixture
def dispatch(settings):
    settings.DEBUG = True
    call_command("seed_demo", dispatches=20, stdout=io.StringIO())
    settings.DEBUG = False
    return (
        Dispatch.objects.filter(
            communication__template_code="payment-reminder",
            communication__customer__time_zone="Europe/London",
            status="delivered",
        )
        .select_related("communication__template_version__template")
        .first()
    )


def _dispatch_page(page, base_url: str, dispatch: Dispatch, language: str):
    agent = UserSettings.objects.get(user__username="agent")
    agent.language = language
    agent.save(update_fields=["language"])
    page.goto(f"{base_url}/admin/login/?next=/agent/dispatches/{dispatch.pk}/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", demo_password("agent"))
    page.click("input[type=submit]")
    page.wait_for_selector("#dispatch-title")
    screens = Path(settings.VAR_DIR) / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screens / f"i18n-dispatch-{language}.png"), full_page=True)


@pytest.mark.parametrize(
    ("language", "direction", "name", "mirrored"),
    [
        ("ar", "rtl", "تذكير بالدفع", True),
        ("en", "ltr", "Payment reminder", False),
    ],
)
def test_dispatch_page_isolates_mixed_text_and_turns_its_arrow(
    page, live_server, dispatch, language, direction, name, mirrored
):
    _dispatch_page(page, live_server.url, dispatch, language)

    assert page.get_attribute("html", "dir") == direction
    assert name in page.inner_text("#dispatch-title")
    assert "Asia/Riyadh" in page.inner_text("#reader-zone")
    # The time reads left to right with its zone after it, on either page.
    status = "#summary dd bdi"
    time_left = page.evaluate(CHAR_LEFT, [status, ":"])
    zone_left = page.evaluate(CHAR_LEFT, [status, "+03"])
    assert time_left is not None and zone_left is not None
    assert zone_left > time_left
    # The customer's own time beside the status, named by its zone.
    assert "Europe/London" in page.inner_text("#summary .customer-time")
    transform = page.eval_on_selector(
        "#template-version .arrow", "a => getComputedStyle(a).transform"
    )
    assert (transform == "matrix(-1, 0, 0, 1, 0, 0)") is mirrored
