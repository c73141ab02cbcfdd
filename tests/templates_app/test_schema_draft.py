"""The data schema drafted from what the content uses, and the check beside it."""

import pytest
from django.test import Client
from django.urls import reverse

from templates_app.models import Category, Template
from templates_app.schema_draft import schema_check, schema_drafted, shapes_used
from tests.templates_app.conftest import make_template

pytestmark = pytest.mark.django_db

HTML = (
    "<p>Dear {{ customer.name }}, pay {{ amount|money('SAR') }} by "
    "{{ due_date|date }}.</p>"
    "{% for item in items %}{{ item.label }} {{ item.price|number(2) }}"
    "{{ loop.index }}{% endfor %}"
    "{% if payment_url is defined %}{{ payment_url }}{% endif %}"
    "{% set total = 3 %}{{ total }}"
)


def test_loops_filters_and_defined_tests_shape_the_schema():
    shapes = shapes_used([("html", HTML)])
    assert set(shapes) == {"customer", "amount", "due_date", "items", "payment_url"}
    assert shapes["amount"].kind == "number"
    assert shapes["due_date"].kind == "date"
    assert shapes["items"].kind == "array"
    assert set(shapes["items"].items.properties) == {"label", "price"}
    assert shapes["payment_url"].optional


@pytest.fixture
def draft(db, author):
    category = Category.objects.create(code="general", name="General")
    return make_template(
        category,
        author,
        channels=["email"],
        contents=[("email", "en", {"subject": "Hi {{ name }}", "html": "<p>Hi</p>"})],
        schema={
            "type": "object",
            "properties": {"name": {"type": "string"}, "legacy": {"type": "string"}},
        },
        sample={"name": "Huda"},
    )


def test_the_draft_keeps_what_is_declared_and_adds_what_is_used(draft):
    template = draft.template
    check = schema_check(template)
    assert check.undeclared == [] and check.unused == ["legacy"]
    schema, sample = schema_drafted(template, [("html", HTML)])
    assert schema["properties"]["name"] == {"type": "string"}
    assert schema["properties"]["items"]["type"] == "array"
    assert "payment_url" not in schema["required"]
    assert sample["name"] == "Huda" and sample["amount"] == 100
    assert sample["items"] == [{"label": "Example label", "price": 100}]


def _form_data(version, html):
    content = version.contents.get()
    data = {
        "contents-TOTAL_FORMS": "1",
        "contents-INITIAL_FORMS": "1",
        "contents-MIN_NUM_FORMS": "0",
        "contents-MAX_NUM_FORMS": "1000",
        "_continue": "1",
    }
    prefix = "contents-0-"
    data[prefix + "id"] = str(content.pk)
    data[prefix + "version"] = str(version.pk)
    for name in ("channel", "language", "subject", "text", "sms_text"):
        data[prefix + name] = getattr(content, name)
    data[prefix + "letter_html"] = data[prefix + "letter_css"] = ""
    data[prefix + "html"] = html
    return data


def test_typed_content_drafts_the_schema_and_is_saved_in_one_click(draft, author):
    client = Client()
    client.force_login(author)
    change = reverse("admin:templates_app_templateversion_change", args=[draft.pk])
    data = _form_data(draft, HTML)

    refused = client.post(change, data)
    assert refused.status_code == 200  # undeclared values, shown on the field
    assert 'id="tpl-schema-draft"' in refused.content.decode()

    response = client.post(
        reverse("admin:templates_app_templateversion_schema_draft", args=[draft.pk]),
        data,
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("Added to the template" in m for m in messages), messages
    template = Template.objects.get(pk=draft.template_id)
    assert "items" in template.data_schema["properties"]
    assert draft.contents.get().html == HTML
    assert schema_check(template).undeclared == []


def test_the_template_page_names_values_declared_but_unused(draft, author):
    client = Client()
    client.force_login(author)
    change = reverse("admin:templates_app_template_change", args=[draft.template_id])
    page = client.get(change).content.decode()
    assert 'id="tpl-unused"' in page and "legacy" in page
