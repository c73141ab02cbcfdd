"""The renderer: escaping, strict data, vetted filters in both languages, blocks."""

import pytest

from templates_app import rendering
from templates_app.rendering import BlockSource


def render(source, data=None, *, html=False, language="en", blocks=None, used=None):
    return rendering.render_source(
        source,
        data or {},
        html=html,
        language=language,
        blocks=blocks,
        used_blocks=used,
    )


def test_html_is_autoescaped_but_text_is_not():
    data = {"name": "<b>Ali & Sons</b>"}
    assert render("{{ name }}", data, html=True) == "&lt;b&gt;Ali &amp; Sons&lt;/b&gt;"
    assert render("{{ name }}", data, html=False) == "<b>Ali & Sons</b>"


def test_missing_variable_is_an_error_naming_it_and_its_line():
    with pytest.raises(rendering.MissingVariableError) as caught:
        render("Hello\n{{ customer.name }}", {"customer": {}})
    assert "name" in caught.value.message
    assert caught.value.line == 2


def test_money_number_and_date_follow_the_language():
    data = {"amount": 1234.5, "day": "2025-03-01"}
    assert render("{{ amount|money('SAR') }}", data, language="en") == "SAR1,234.50"
    arabic = render("{{ amount|money('SAR') }}", data, language="ar")
    assert "1,234.50" in arabic and "ر.س" in arabic
    assert render("{{ amount|number(1) }}", data) == "1,234.5"
    assert render("{{ day|date('long') }}", data, language="en") == "March 1, 2025"
    assert render("{{ day|date('long') }}", data, language="ar") == "1 مارس 2025"


def test_locale_filters_are_not_frozen_at_compile_time():
    source = "{{ '2025-03-01'|date('long') }}"
    assert render(source, language="ar") == "1 مارس 2025"
    assert render(source, language="en") == "March 1, 2025"


def test_bad_filter_input_is_a_clear_error():
    with pytest.raises(rendering.UnsafeOperationError, match="ISO date"):
        render("{{ d|date }}", {"d": "next tuesday"})
    with pytest.raises(rendering.UnsafeOperationError, match="three-letter"):
        render("{{ 5|money('dollars') }}")


def test_block_renders_with_the_data_and_is_recorded():
    blocks = {
        "footer": BlockSource(
            "footer",
            version_id=41,
            number=3,
            html="<p>Bye {{ name }}</p>",
            text="Bye {{ name }}",
        ),
    }
    used = {}
    html = render(
        '{{ block("footer") }}', {"name": "<Huda>"}, html=True, blocks=blocks, used=used
    )
    assert html == "<p>Bye &lt;Huda&gt;</p>"
    assert used == {"footer": 41}
    assert (
        render('{{ block("footer") }}', {"name": "Huda"}, blocks=blocks) == "Bye Huda"
    )


def test_block_cannot_include_a_block():
    blocks = {"a": BlockSource("a", 1, 1, '{{ block("a") }}', "")}
    with pytest.raises(rendering.UnsafeOperationError):
        render('{{ block("a") }}', html=True, blocks=blocks)


def test_email_content_is_sanitised_and_gets_a_text_part():
    rendered = rendering.render_content(
        channel="email",
        language="en",
        sources={
            "subject": "Hi\n{{ name }}",
            "html": '<p onclick="steal()">Hi {{ name }}</p><script>alert(1)</script>'
            '<a href="javascript:alert(1)">x</a><a href="https://ok.example">ok</a>',
            "text": "",
        },
        data={"name": "Huda"},
    )
    html = rendered.parts["html"]
    assert "script" not in html and "onclick" not in html and "javascript:" not in html
    assert 'href="https://ok.example"' in html
    assert rendered.parts["subject"] == "Hi Huda"
    assert "Hi Huda" in rendered.parts["text"]
    assert "https://ok.example" in rendered.parts["text"]


def test_sms_content_reports_encoding_and_segments():
    rendered = rendering.render_content(
        channel="sms",
        language="ar",
        sources={"sms_text": "رمزك {{ code }}"},
        data={"code": "123456"},
    )
    assert rendered.sms["encoding"] == "UCS-2"
    assert rendered.sms["segments"] == 1


def test_errors_name_channel_language_and_field():
    with pytest.raises(rendering.RenderError) as caught:
        rendering.render_content(
            channel="email",
            language="ar",
            sources={"subject": "ok", "html": "<p>\n{{ missing }}</p>", "text": ""},
            data={},
        )
    assert str(caught.value).startswith("email/ar/html line 2:")
