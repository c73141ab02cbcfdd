"""A Content-Security-Policy on every page; Chromium reports no violation on them.

The `page` fixture (tests/conftest.py) fails any browser test whose pages
the site's policy refused something on; here the main pages of each area are
opened in Chromium as the demo operator would, and the detector itself is
shown to catch an inline script.
"""

import pytest
from django.core.management import call_command

from templates_app.models import TemplateVersion
from tests.factories import user_build

PAGES = [
    "/admin/",
    "/admin/templates_app/template/",
    "/admin/templates_app/templateversion/",
    "/admin/channels_app/dispatch/",
    "/admin/audit/auditevent/",
    "/agent/",
    "/ops/",
    "/api/v1/docs",
]


@pytest.fixture
def staff(db):
    return user_build(username="csp-root", is_superuser=True)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part)
    }


@pytest.mark.django_db
def test_every_page_carries_a_policy_with_no_inline_script(client, staff):
    anonymous = client.get("/admin/login/")
    client.force_login(staff)

    for response in [anonymous, *(client.get(url) for url in PAGES)]:
        assert response.status_code == 200, response.request["PATH_INFO"]
        policy = _policy(response)
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'"]
        assert policy["style-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]


@pytest.mark.django_db
def test_the_swagger_page_loads_its_start_up_script_from_a_file(client, staff):
    client.force_login(staff)

    page = client.get("/api/v1/docs").content.decode()
    script = client.get("/api/v1/docs?script=")

    assert "<style>" not in page and "<script>" not in page
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_main_pages_report_no_violation_in_chromium(
    live_server, page, staff, settings
):
    settings.DEBUG = True
    call_command("seed_demo", dispatches=0)
    settings.DEBUG = False
    session = _signed_in(page, live_server.url, staff)
    assert session
    version = TemplateVersion.objects.order_by("pk").first()

    for url in [
        *PAGES,
        f"/admin/templates_app/templateversion/{version.pk}/change/",
        f"/admin/templates_app/templateversion/{version.pk}/review/",
    ]:
        page.goto(live_server.url + url)
        page.wait_for_load_state("load")
    # The Swagger UI drew the operations: its scripts ran.
    page.goto(live_server.url + "/api/v1/docs")
    page.wait_for_selector(".opblock")
    # Scripts from static files run: the language menu switches on change.
    page.goto(live_server.url + "/agent/")
    page.select_option("#language-select", "ar")
    page.wait_for_function("() => document.documentElement?.dir === 'rtl'")
    assert page.csp_violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_injected_inline_script_is_refused_and_reported(live_server, page, staff):
    _signed_in(page, live_server.url, staff)
    page.goto(live_server.url + "/agent/")

    ran = page.evaluate(
        """() => new Promise((done) => {
          window.injected = false;
          document.addEventListener("securitypolicyviolation", () =>
            done(window.injected));
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.body.append(script);
        })"""
    )

    assert ran is False
    assert [v["directive"] for v in page.csp_violations] == ["script-src-elem"]
    page.csp_violations.clear()  # seen: the fixture need not fail the test


def _signed_in(page, url: str, user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    value = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": value, "url": url}])
    return value
