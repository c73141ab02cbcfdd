"""Finding 7: an unknown filter or `|attr` is a form error, never a 500.

Covers the admin save of a template version and of a content block version,
and the preview endpoint.
"""

import pytest
from django.test import Client
from django.urls import reverse

from tests.templates_app.conftest import make_block
from tests.templates_app.test_admin import _form_data, _index

SOURCES = [
    "{{ customer.name | nosuchfilter }}",
    "{{ customer | attr('name') }}",
    "{{ customer.name | attr('__class__') }}",
    "{% filter nosuchfilter %}x{% endfilter %}",
    "{% filter attr('upper') %}x{% endfilter %}",
]


@pytest.fixture
def author_client(author):
    client = Client()
    client.force_login(author)
    return client


@pytest.mark.parametrize("source", SOURCES)
def test_saving_a_version_with_the_filter_shows_a_form_error(
    demo, author_client, source
):
    version = demo["payment-reminder"].versions.get(number=1)
    index = _index(version, "email", "en")
    url = reverse("admin:templates_app_templateversion_change", args=[version.pk])

    response = author_client.post(
        url, _form_data(version, **{f"contents-{index}-html": source})
    )

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    (error,) = formset.forms[index].errors["html"]
    assert "no filter named" in error


@pytest.mark.parametrize("source", SOURCES)
def test_previewing_the_filter_reports_it_on_the_pane(demo, author_client, source):
    version = demo["payment-reminder"].versions.get(number=1)
    index = _index(version, "email", "en")
    url = reverse("admin:templates_app_templateversion_preview", args=[version.pk])

    response = author_client.post(
        url, _form_data(version, **{f"contents-{index}-html": source})
    )

    assert response.status_code == 200
    (pane,) = [
        p
        for p in response.json()["panes"]
        if (p["channel"], p["language"]) == ("email", "en")
    ]
    assert not pane["ok"]
    assert "no filter named" in pane["error"]


def _block_form(response) -> dict:
    """Return the POST data of a block version change page as it stands."""
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[f"{formset.prefix}-{name}"] = management[name].value()
        for form in formset.forms:
            for name in form.fields:
                value = form[name].value()
                if value is not None:
                    data[form.add_prefix(name)] = value
    return data


@pytest.mark.parametrize("source", SOURCES)
def test_saving_a_block_with_the_filter_shows_a_form_error(
    db, author, author_client, source
):
    block_version = make_block("footer", author, [("en", "<p>F</p>", "F")])
    url = reverse(
        "admin:templates_app_contentblockversion_change", args=[block_version.pk]
    )
    data = _block_form(author_client.get(url))
    (html_key,) = [key for key in data if key.endswith("-0-html")]
    data[html_key] = source

    response = author_client.post(url, data)

    assert response.status_code == 200
    assert "no filter named" in response.content.decode()
