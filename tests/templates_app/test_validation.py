"""Validation on draft save: each problem names channel, language, field and line."""

import pytest

from templates_app import selectors, services
from templates_app.validation import ContentDraft
from tests.templates_app.conftest import grant, make_block, make_template

EMAIL_EN = ("email", "en", {"subject": "Hi {{ name }}", "html": "<p>{{ name }}</p>"})


def _save(version, *contents):
    return services.version_content_save(
        version=version,
        contents=[
            ContentDraft(channel=c, language=lang, fields=f) for c, lang, f in contents
        ],
        actor=version.author,
    )


def _errors(version, *contents):
    with pytest.raises(services.VersionInvalid) as caught:
        _save(version, *contents)
    return caught.value.report.errors


@pytest.fixture
def version(category, author):
    return make_template(category, author, contents=[EMAIL_EN], channels=["email"])


def test_syntax_error_names_channel_language_field_and_line(version):
    (problem,) = _errors(
        version,
        ("email", "en", {"subject": "Hi", "html": "<p>ok</p>\n<p>{% if name %}</p>"}),
    )
    assert (problem.channel, problem.language, problem.field) == ("email", "en", "html")
    assert problem.line == 2
    assert str(problem).startswith("email/en/html line 2:")


def test_variable_absent_from_schema_is_refused(version):
    problems = _errors(
        version,
        ("email", "en", {"subject": "Hi {{ nickname }}", "html": "<p>{{ name }}</p>"}),
    )
    assert [(p.field, p.message) for p in problems] == [
        ("subject", "Uses nickname, which the data schema does not declare.")
    ]


def test_loop_and_set_names_are_not_mistaken_for_data(version):
    _save(
        version,
        (
            "email",
            "en",
            {
                "subject": "{% set greeting = 'Hi' %}{{ greeting }} {{ name }}",
                "html": "{% for letter in name %}{{ loop.index }}{{ letter }}"
                "{% endfor %}",
            },
        ),
    )


def test_sample_data_not_matching_schema_names_the_path(version):
    template = version.template
    template.data_schema = {
        "type": "object",
        "required": ["name", "policy"],
        "properties": {
            "name": {"type": "string"},
            "policy": {
                "type": "object",
                "properties": {"premium": {"type": "number"}},
            },
        },
    }
    template.sample_data = {"name": "Huda", "policy": {"premium": "a lot"}}
    with pytest.raises(Exception) as caught:
        services.template_save(template=template, actor=version.author)
    assert "/policy/premium" in str(caught.value)
    template.refresh_from_db()
    template.data_schema["required"] = ["name", "policy"]
    template.data_schema["properties"]["policy"] = {"type": "object"}
    template.save()
    template.sample_data = {"name": "Huda"}
    template.save()
    problems = _errors(version, EMAIL_EN)
    assert any("policy" in p.message and "required" in p.message for p in problems)


def test_claimed_channel_without_content_is_refused(version):
    template = version.template
    template.channels = ["email", "sms"]
    template.save()
    (problem,) = _errors(version, EMAIL_EN)
    assert problem.channel == "sms" and problem.language == "en"
    assert "claims sms" in problem.message


def test_content_for_unclaimed_channel_and_empty_required_fields_are_refused(version):
    problems = _errors(version, EMAIL_EN, ("sms", "ar", {"sms_text": ""}))
    messages = {(p.channel, p.field, p.message) for p in problems}
    assert ("sms", None, "The template does not claim the sms channel.") in messages
    assert ("sms", "sms_text", "This field is required.") in messages


def test_sample_render_failures_are_reported(version):
    (problem,) = _errors(
        version,
        ("email", "en", {"subject": "Hi", "html": "<p>{{ name.first.x }}</p>"}),
    )
    assert problem.field == "html" and "sample data" in problem.message


def test_unknown_block_is_refused_and_known_block_is_pinned(version, author):
    problems = _errors(
        version,
        ("email", "en", {"subject": "Hi", "html": '{{ block("footer") }}'}),
    )
    assert "no content block footer" in problems[0].message
    block_version = make_block("footer", author, [("en", "<p>Bye</p>", "Bye")])
    _save(version, ("email", "en", {"subject": "Hi", "html": '{{ block("footer") }}'}))
    assert list(version.block_versions.all()) == [block_version]


def test_block_variables_are_checked_against_the_schema(version, author):
    make_block("sig", author, [("en", "<p>{{ agent }}</p>", "{{ agent }}")])
    problems = _errors(
        version, ("email", "en", {"subject": "Hi", "html": '{{ block("sig") }}'})
    )
    assert problems[0].message == "Uses agent, which the data schema does not declare."


def test_long_sms_is_a_warning_not_an_error(category, author, settings):
    settings.SMS_MAX_SEGMENTS_WARNING = 1
    version = make_template(
        category,
        author,
        channels=["sms"],
        contents=[("sms", "en", {"sms_text": "x" * 200 + "{{ name }}"})],
    )
    report = services.version_validate(
        version=version, contents=services.contents_of(version)
    )
    assert report.ok
    (warning,) = report.warnings
    assert "2 segments" in warning.message


def test_frozen_version_cannot_be_edited(version, author):
    services.version_submit(version=version, actor=author)
    with pytest.raises(services.VersionNotEditable):
        _save(version, EMAIL_EN)


def test_content_hash_changes_with_content_and_pins(version, author):
    first = version.content_hash
    assert len(first) == 64
    _save(version, ("email", "en", {"subject": "Hello {{ name }}", "html": "<p>x</p>"}))
    version.refresh_from_db()
    assert version.content_hash != first
    assert selectors.version_latest(version.template) == version


def test_new_draft_copies_content_and_refuses_a_second_draft(version, author, reviewer):
    grant(version.template.category, "review_category", reviewer)
    with pytest.raises(services.AuthoringError):
        services.version_draft_create(template=version.template, author=author)
    services.version_submit(version=version, actor=author)
    services.version_reject(version=version, actor=reviewer, comment="Not yet.")
    draft = services.version_draft_create(template=version.template, author=author)
    assert draft.number == 2
    assert [c.subject for c in draft.contents.all()] == ["Hi {{ name }}"]
    assert draft.content_hash
