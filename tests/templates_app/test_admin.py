"""Admin screens: permission checks, preview, validation next to fields, diff, send."""

import pytest
from django.test import Client
from django.urls import reverse

from templates_app import services
from templates_app.demo import demo_approved_seed
from templates_app.models import TemplateVersion
from tests.templates_app.conftest import AUTHOR_PERMISSIONS, grant, user_with


def _version(demo, code="payment-reminder") -> TemplateVersion:
    return demo[code].versions.get(number=1)


def _change_url(version):
    return reverse("admin:templates_app_templateversion_change", args=[version.pk])


def _preview_url(version):
    return reverse("admin:templates_app_templateversion_preview", args=[version.pk])


def _form_data(version, **overrides):
    """Return the POST data of the version change form for its stored content."""
    contents = list(version.contents.all())
    data = {
        "contents-TOTAL_FORMS": str(len(contents)),
        "contents-INITIAL_FORMS": str(len(contents)),
        "contents-MIN_NUM_FORMS": "0",
        "contents-MAX_NUM_FORMS": "1000",
    }
    for index, content in enumerate(contents):
        prefix = f"contents-{index}-"
        data[prefix + "id"] = str(content.pk)
        data[prefix + "version"] = str(version.pk)
        for name in (
            "channel",
            "language",
            "subject",
            "html",
            "text",
            "sms_text",
            "letter_html",
            "letter_css",
        ):
            data[prefix + name] = getattr(content, name)
    data.update(overrides)
    return data


def _index(version, channel, language):
    for index, content in enumerate(version.contents.all()):
        if (content.channel, content.language) == (channel, language):
            return index
    raise LookupError((channel, language))


@pytest.fixture
def approved(demo, author, reviewer, second_reviewer):
    return demo_approved_seed(
        author=author, reviewer=reviewer, second_reviewer=second_reviewer
    )


@pytest.fixture
def author_client(author):
    client = Client()
    client.force_login(author)
    return client


def test_preview_requires_login(demo):
    response = Client().post(_preview_url(_version(demo)))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_preview_refuses_staff_without_permission(demo):
    client = Client()
    client.force_login(user_with("nobody", []))
    version = _version(demo)
    assert client.post(_preview_url(version), _form_data(version)).status_code == 403
    assert client.get(_preview_url(version)).status_code == 403


def test_viewer_may_preview_stored_content_but_not_post(demo):
    version = _version(demo)
    viewer = user_with("viewer", ["view_templateversion", "view_template"])
    client = Client()
    client.force_login(viewer)
    assert client.get(_preview_url(version)).status_code == 403
    grant(version.template.category, "review_category", viewer)
    assert client.post(_preview_url(version), _form_data(version)).status_code == 403
    response = client.get(_preview_url(version))
    assert response.status_code == 200
    assert {(p["channel"], p["language"]) for p in response.json()["panes"]} == {
        ("email", "ar"),
        ("email", "en"),
        ("sms", "ar"),
        ("sms", "en"),
    }


def test_preview_needs_the_csrf_token(demo, author):
    client = Client(enforce_csrf_checks=True)
    client.force_login(author)
    version = _version(demo)
    assert client.post(_preview_url(version), _form_data(version)).status_code == 403


def test_preview_renders_posted_content_in_every_channel_and_language(
    demo, author_client
):
    version = _version(demo)
    index = _index(version, "sms", "en")
    data = _form_data(version, **{f"contents-{index}-sms_text": "Pay {{ amount }} €"})
    result = author_client.post(_preview_url(version), data).json()
    panes = {(p["channel"], p["language"]): p for p in result["panes"]}
    assert panes[("sms", "en")]["text"] == "Pay 1250.5 €"
    assert panes[("sms", "en")]["sms"]["encoding"] == "GSM-7"
    assert panes[("sms", "ar")]["sms"]["encoding"] == "UCS-2"
    assert "Fatimah Al-Harbi" in panes[("email", "en")]["html"]
    assert "Content-Security-Policy" in panes[("email", "en")]["html"]
    assert result["errors"] == []


def test_preview_of_a_letter_returns_a_pdf(demo, author_client):
    version = _version(demo, "policy-renewal-letter")
    result = author_client.post(_preview_url(version), _form_data(version)).json()
    letter = next(p for p in result["panes"] if p["channel"] == "letter")
    import base64

    assert base64.b64decode(letter["pdf"]).startswith(b"%PDF")
    assert letter["pages"] == 1


def test_preview_of_frozen_version_refuses_posted_content(approved, author_client):
    version = _version(approved)
    assert (
        author_client.post(_preview_url(version), _form_data(version)).status_code
        == 403
    )
    assert author_client.get(_preview_url(version)).status_code == 200


def test_saving_a_draft_shows_errors_next_to_the_field(demo, author_client):
    version = _version(demo)
    index = _index(version, "email", "en")
    data = _form_data(
        version, **{f"contents-{index}-html": "<p>ok</p>\n{{ nickname }}\n{% if %}"}
    )
    response = author_client.post(_change_url(version), data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[index].errors["html"] == [
        "Line 3: Expected an expression, got 'end of statement block'"
    ]


def test_saving_a_draft_reports_undeclared_variables_on_the_field(demo, author_client):
    version = _version(demo)
    index = _index(version, "email", "ar")
    data = _form_data(version, **{f"contents-{index}-subject": "{{ nickname }}"})
    response = author_client.post(_change_url(version), data)
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[index].errors["subject"] == [
        "Uses nickname, which the data schema does not declare."
    ]


def test_saving_a_valid_draft_goes_through_the_service(demo, author_client):
    version = _version(demo)
    before = version.content_hash
    index = _index(version, "sms", "en")
    data = _form_data(
        version,
        **{f"contents-{index}-sms_text": "Due {{ due_date|date }}", "_continue": "1"},
    )
    response = author_client.post(_change_url(version), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    version.refresh_from_db()
    assert version.contents.get(channel="sms", language="en").sms_text == (
        "Due {{ due_date|date }}"
    )
    assert version.content_hash != before
    assert version.history.count() >= 2


def test_diff_shows_changes_per_channel_and_language(approved, author):
    version = _version(approved)
    draft = services.version_draft_create(template=version.template, author=author)
    content = draft.contents.get(channel="sms", language="ar")
    content.sms_text = content.sms_text.replace("للدفع", "ادفع الآن")
    content.save()
    client = Client()
    client.force_login(author)
    url = reverse("admin:templates_app_templateversion_diff", args=[draft.pk])
    response = client.get(url, {"against": version.pk})
    assert response.status_code == 200
    body = response.content.decode()
    assert "sms / ar" in body
    assert "الآن" in body and "diff_add" in body
    assert "email / en" not in body
    nobody = Client()
    nobody.force_login(user_with("nobody", []))
    assert nobody.get(url).status_code == 403


def test_block_shows_where_it_is_used(demo, author_client):
    from templates_app.models import ContentBlock

    block = ContentBlock.objects.get(code="legal-footer")
    response = author_client.get(
        reverse("admin:templates_app_contentblock_change", args=[block.pk])
    )
    body = response.content.decode()
    assert "payment-reminder v1" in body
    assert "policy-renewal-letter v1" in body


def test_history_view_lists_changes(demo, author_client):
    version = _version(demo)
    response = author_client.get(
        reverse("admin:templates_app_templateversion_history", args=[version.pk])
    )
    assert response.status_code == 200


def test_new_draft_button_needs_permission(demo):
    template = demo["one-time-passcode"]
    url = reverse("admin:templates_app_template_new_draft", args=[template.pk])
    client = Client()
    client.force_login(user_with("viewer", ["view_template"]))
    assert client.post(url).status_code == 403


def test_send_test_emails_the_author_through_smtp(demo, author_client, smtp_sink):
    version = _version(demo)
    url = reverse("admin:templates_app_templateversion_send_test", args=[version.pk])
    response = author_client.post(url, _form_data(version))
    assert response.status_code == 200, response.content
    assert response.json()["ok"]
    assert smtp_sink.arrived.wait(10)
    assert len(smtp_sink.messages) == 2
    subjects = {str(m["Subject"]).strip() for m in smtp_sink.messages}
    assert any(
        s.startswith("[TEST] Your payment for policy MT-204518") for s in subjects
    )
    assert any(s.startswith("[TEST] موعد سداد قسط الوثيقة") for s in subjects)
    for message in smtp_sink.messages:
        assert message["To"] == "author@example.com"
        html = message.get_body(preferencelist=("html",)).get_content()
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert "Fatimah Al-Harbi" in html and "Fatimah Al-Harbi" in text


def test_send_test_refuses_users_without_change_permission(demo, smtp_sink):
    client = Client()
    client.force_login(user_with("viewer", ["view_templateversion"]))
    version = _version(demo)
    url = reverse("admin:templates_app_templateversion_send_test", args=[version.pk])
    assert client.post(url, _form_data(version)).status_code == 403
    assert smtp_sink.messages == []


def test_author_permissions_fixture_is_what_the_report_asks_for():
    assert "change_templateversion" in AUTHOR_PERMISSIONS


# A source using a filter or test the sandbox does not offer: an error, never a 500.

UNKNOWN_FILTER_SOURCES = [
    "{{ customer.name | nosuchfilter }}",
    "{{ customer | attr('name') }}",
    "{{ customer.name | attr('__class__') }}",
    "{% for x in [1] %}{{ x | map('upper') | list }}{% endfor %}",
    "{% if customer.name is nosuchtest %}x{% endif %}",
]


@pytest.mark.parametrize("source", UNKNOWN_FILTER_SOURCES)
def test_saving_a_draft_with_an_unknown_filter_shows_it_on_the_field(
    demo, author_client, source
):
    version = _version(demo)
    index = _index(version, "email", "en")
    data = _form_data(version, **{f"contents-{index}-subject": source})

    response = author_client.post(_change_url(version), data)

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    (error,) = formset.forms[index].errors["subject"]
    assert "filter" in error or "test named" in error


# Every other kind of mistake an author can type, each reported on the field.
AUTHOR_MISTAKES = [
    "{{ customer.name }",
    "{% if customer.name %}x",
    "{{ amount | mony('SAR') }}",
    "{% if amount is nosuchtest %}x{% endif %}",
    '{{ block("no-such-block") }}',
    "{{ amount | money(7) }}",
    "{{ amount | money('SAR', 1, 2, 3) }}",
    "{{ amount | number('two') }}",
    "{{ amount | date('no-such-format', 7) }}",
    "{{ customer.name | truncate('abc') }}",
    "{{ customer.name | round('x', 'y', 'z') }}",
    "{{ not_declared }}",
    "{{ customer.no_such_key }}",
    "{{ customer.name.no_such_key.deeper }}",
    "{{ customer.name() }}",
    "{% for i in range('x') %}{{ i }}{% endfor %}",
    "{{ amount / 0 }}",
]


@pytest.mark.parametrize("source", AUTHOR_MISTAKES)
def test_saving_a_draft_with_any_template_mistake_shows_it_on_the_field(
    demo, author_client, source
):
    version = _version(demo)
    index = _index(version, "email", "en")
    data = _form_data(version, **{f"contents-{index}-subject": source})

    response = author_client.post(_change_url(version), data)

    assert response.status_code == 200, response.content[:300]
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[index].errors["subject"]
    assert formset.forms[index]["subject"].value() == source


@pytest.mark.parametrize("source", AUTHOR_MISTAKES)
def test_previewing_any_template_mistake_reports_it(demo, author_client, source):
    version = _version(demo)
    index = _index(version, "email", "en")
    data = _form_data(version, **{f"contents-{index}-subject": source})

    response = author_client.post(_preview_url(version), data)

    assert response.status_code in (200, 400), response.content[:300]
    assert b"error" in response.content


@pytest.mark.parametrize("source", UNKNOWN_FILTER_SOURCES)
def test_previewing_an_unknown_filter_reports_it(demo, author_client, source):
    version = _version(demo)
    index = _index(version, "email", "en")
    data = _form_data(version, **{f"contents-{index}-subject": source})

    response = author_client.post(_preview_url(version), data)

    assert response.status_code in (200, 400), response.content[:300]
    body = response.content.decode()
    assert "filter" in body or "test named" in body


def test_no_hostile_source_typed_into_the_form_gives_a_server_error(
    demo, author_client
):
    from tests.templates_app.test_hostile import HOSTILE

    version = _version(demo)
    index = _index(version, "email", "en")
    for field in ("subject", "html"):
        for source in [*HOSTILE, *AUTHOR_MISTAKES, *UNKNOWN_FILTER_SOURCES]:
            data = _form_data(version, **{f"contents-{index}-{field}": source})
            saved = author_client.post(_change_url(version), data)
            assert saved.status_code in (200, 302), (field, source)
            if field == "html":  # a preview renders every field alike
                previewed = author_client.post(_preview_url(version), data)
                assert previewed.status_code in (200, 400), (field, source)


def test_an_author_creates_a_template_with_no_schema_yet(demo, author_client):
    """The add form's `{}` schema and sample data are accepted, not "required"."""
    from templates_app.models import Category, Template

    category = Category.objects.get(code="collections")

    response = author_client.post(
        reverse("admin:templates_app_template_add"),
        {
            "code": "card-activation",
            "name": "Card activation",
            "name_ar": "تفعيل البطاقة",
            "category": category.pk,
            "channels": ["email"],
            "default_language": "en",
            "data_schema": "{}",
            "sample_data": "{}",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
            "versions-MIN_NUM_FORMS": "0",
            "versions-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302, response.context["errors"]
    template = Template.objects.get(code="card-activation")
    assert (template.data_schema, template.sample_data) == ({}, {})


def test_preview_panes_are_named_in_the_authors_language(demo, author, author_client):
    from ccm.models import UserSettings

    UserSettings.objects.update_or_create(user=author, defaults={"language": "ar"})
    version = _version(demo)

    result = author_client.post(_preview_url(version), _form_data(version)).json()

    labels = {(p["channel"], p["language"]): p["label"] for p in result["panes"]}
    assert labels[("sms", "ar")] == "رسالة نصية (SMS) · العربية"
    assert labels[("email", "en")] == "البريد الإلكتروني · الإنجليزية"
