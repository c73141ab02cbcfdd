"""Template owners see the complaints and incidents about their template on
the template's page."""

import re

import pytest

from channels_app.models import Dispatch, Incident
from templates_app.models import Template
from tests.factories import user_build
from tests.operations.test_dashboard import traffic  # noqa: F401

pytestmark = pytest.mark.django_db


def _owner(username: str, role: str, template: Template):
    from templates_app import selectors
    from templates_app.demo import _grant

    user = user_build(username=username, role=role)
    _grant(
        template.category,
        selectors.AUTHOR if role == "Author" else selectors.REVIEW,
        user,
    )
    return user


def _panel(client, template: Template, language: str = "en") -> str:
    page = client.get(
        f"/admin/templates_app/template/{template.pk}/change/",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert page.status_code == 200
    html = page.content.decode()
    start = html.index('id="tpl-owner-panel"')
    return html[start : html.index("</div>", start)]


def test_the_author_sees_the_complaint_and_its_incident(client, traffic):  # noqa: F811
    template = Template.objects.get(code="payment-reminder")
    client.force_login(_owner("owner-author", "Author", template))

    panel = _panel(client, template)

    assert re.search(r'id="tpl-owner-sent">3<', panel), "three reminders sent"
    assert re.search(r'id="tpl-owner-complaints">1<', panel)
    # 1 complaint for 3 sent.
    assert re.search(r'id="tpl-owner-rate">333\.33<', panel)
    incident = Incident.objects.get(template_code="payment-reminder")
    assert incident.title in panel
    # An author may not open incidents: the number is shown, not a link.
    assert f"/admin/channels_app/incident/{incident.pk}/" not in panel
    # The customer's words are not shown to the template's owners.
    assert "wrong" not in panel


def test_an_operator_follows_the_incident_from_the_template_s_page(client, traffic):  # noqa: F811
    template = Template.objects.get(code="payment-reminder")
    client.force_login(user_build(username="op", role="Operator", is_superuser=True))
    panel = _panel(client, template)
    incident = Incident.objects.get(template_code="payment-reminder")
    assert f'href="/admin/channels_app/incident/{incident.pk}/change/"' in panel
    assert (
        client.get(f"/admin/channels_app/incident/{incident.pk}/change/").status_code
        == 200
    )


def test_a_template_nobody_complained_about_says_so_in_arabic(client, traffic):  # noqa: F811
    template = Template.objects.get(code="one-time-passcode")
    client.force_login(_owner("owner-reviewer", "Reviewer", template))
    panel = _panel(client, template, language="ar")
    assert "tpl-owner-no-incidents" in panel
    assert "الشكاوى" in panel
    assert Dispatch.objects.filter(communication__template_code="one-time-passcode")
