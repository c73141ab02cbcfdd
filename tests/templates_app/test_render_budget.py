"""Resource-exhaustion templates are refused by the render budget, within bounds.

Each payload is refused with an error naming the limit it hit; the bound
asserted is the memory the render allocated (values are refused before they
are built) or the steps it spent, never a time.
"""

import tracemalloc

import pytest

from templates_app import letters, rendering
from templates_app.render_limits import RenderLimits, request_budget

# Far below the gigabytes these payloads would take if built.
MEMORY_BOUND = 32 * 1024 * 1024


def _render(source: str, data=None) -> str:
    return rendering.render_source(source, data or {}, html=False, language="en")


def _refused_within_memory(source: str, match: str) -> rendering.RenderError:
    tracemalloc.start()
    try:
        with pytest.raises(rendering.RenderLimitError, match=match) as caught:
            _render(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak} bytes allocated before refusing"
    return caught.value


def test_nested_lists_compared_are_refused_before_they_are_built():
    _refused_within_memory(
        "{% set a=[[1]*100000]*100000 %}{% set b=[[1]*100000]*100000 %}{{ a == b }}",
        "TEMPLATE_MAX_OUTPUT_BYTES",
    )


def test_a_list_of_long_strings_is_refused_before_it_is_built():
    _refused_within_memory('{{ ["x"*400000]*400000 }}', "TEMPLATE_MAX_OUTPUT_BYTES")


def test_string_multiplication_and_concatenation_are_sized_first():
    _refused_within_memory('{{ "x" * 1000000000 }}', "TEMPLATE_MAX_OUTPUT_BYTES")
    _refused_within_memory(
        '{% set s = "x" * 600000 %}{{ s ~ s }}', "TEMPLATE_MAX_OUTPUT_BYTES"
    )
    _refused_within_memory(
        '{% set s = ["x" * 600000] %}{{ s + s }}', "TEMPLATE_MAX_OUTPUT_BYTES"
    )


def test_sizes_count_bytes_not_characters():
    # 600,000 Arabic letters are 1.2 MB in UTF-8, over the 1 MB default.
    _render('{% set s = "x" * 600000 %}{{ s|length }}')
    _refused_within_memory('{{ "ب" * 600000 }}', "TEMPLATE_MAX_OUTPUT_BYTES")


def test_writing_out_a_large_list_is_refused_before_it_is_written(settings):
    settings.TEMPLATE_MAX_OUTPUT_BYTES = 100_000
    data = {"rows": [["cell"] * 100] * 1000}
    with pytest.raises(rendering.RenderLimitError, match="TEMPLATE_MAX_OUTPUT_BYTES"):
        _render("{{ rows }}", data)


def test_repeated_comparisons_of_large_lists_spend_the_step_budget():
    # Each list is under the size limit; comparing them costs their length.
    for source in (
        "{% set a=[1]*50000 %}{% set b=[1]*50000 %}"
        "{% for i in range(10000) %}{{ a == b }}{% endfor %}",
        "{% set a=[1]*50000 %}{% for i in range(10000) %}{{ 2 in a }}{% endfor %}",
        "{% set a=[1]*50000 %}{% for i in range(10000) %}{{ a is eq a }}{% endfor %}",
    ):
        with pytest.raises(rendering.RenderLimitError, match="steps"):
            _render(source)


def test_self_calling_macros_are_stopped_at_the_call_depth():
    with pytest.raises(rendering.RenderLimitError, match="nested more than 24"):
        _render("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}")


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(10**9) %}{% endfor %}",
        "{% for a in range(10000) %}{% for b in range(10000) %}"
        "{% endfor %}{% endfor %}",
    ],
)
def test_huge_loops_are_refused(source):
    with pytest.raises(rendering.RenderLimitError, match="range|steps"):
        _render(source)


@pytest.mark.parametrize("opening", ["(", "["])
def test_deep_nesting_is_refused(opening):
    closing = {"(": ")", "[": "]"}[opening]
    with pytest.raises(rendering.TemplateSourceError, match="nested too deeply"):
        _render("{{ " + opening * 5000 + "1" + closing * 5000 + " }}")


def test_one_request_shares_one_budget_between_its_renders():
    """Fifty drafts in one request do no more work than one render may."""
    source = (
        "{% for a in range(100) %}{% for b in range(1000) %}{% endfor %}{% endfor %}"
    )
    _render(source)  # alone, well within the step budget
    outcomes = []
    with request_budget(RenderLimits(max_steps=1_000_000)):
        for _ in range(50):
            try:
                _render(source)
                outcomes.append("ok")
            except rendering.RenderLimitError as exc:
                outcomes.append(exc.message)
    assert outcomes.count("ok") < 10
    assert "steps" in outcomes[-1]


def test_one_request_shares_one_byte_allowance():
    source = '{% set s = "x" * 900000 %}{{ s|length }}'
    with request_budget(RenderLimits(max_request_bytes=5_000_000)):
        for _ in range(5):
            _render(source)
        with pytest.raises(rendering.RenderLimitError, match="TEMPLATE_REQUEST_MAX"):
            _render(source)


def test_ordinary_comparisons_still_work():
    assert (
        _render('{{ [1, 2] == [1, 2] }} {{ "a" in "abc" }} {{ 1 < 2 < 3 }} {{ 3 > 4 }}')
        == "True True True False"
    )
    assert _render("{{ 3 is in [1, 2, 3] }} {{ 2 is eq 3 }}") == "True False"


PAGE = '<p style="break-after: page">x</p>'


def test_a_ten_thousand_page_letter_is_refused_naming_the_limit():
    with pytest.raises(letters.LetterLimitError, match="LETTER_MAX_PAGES"):
        letters.letter_pdf(PAGE * 10_000, language="en")


def test_a_letter_over_the_page_limit_is_refused_before_the_next_page():
    with pytest.raises(letters.LetterLimitError, match="longer than 20 pages"):
        letters.letter_pdf(PAGE * 30, language="en")
    assert letters.letter_pdf(PAGE * 5, language="en").pages == 5


def test_letter_limits_follow_the_category(settings):
    settings.LETTER_MAX_PAGES = 3
    settings.LETTER_LIMITS = {"collections": {"pages": 8}}
    with pytest.raises(letters.LetterLimitError, match="longer than 3 pages"):
        letters.letter_pdf(
            PAGE * 5, language="en", limits=letters.letter_limits("marketing")
        )
    letter = letters.letter_pdf(
        PAGE * 5, language="en", limits=letters.letter_limits("collections")
    )
    assert letter.pages == 5
    with pytest.raises(letters.LetterLimitError, match="category collections"):
        letters.letter_pdf(
            PAGE * 9, language="en", limits=letters.letter_limits("collections")
        )


def test_a_letter_over_its_render_time_is_refused(settings):
    settings.LETTER_RENDER_SECONDS = 0
    with pytest.raises(letters.LetterLimitError, match="LETTER_RENDER_SECONDS"):
        letters.letter_pdf(PAGE * 2, language="ar")


def test_saving_many_drafts_shares_one_request_budget(demo, author, settings):
    """Each draft alone is within the step budget; together they are not."""
    # The steps are under test, not the clock: a busy machine must not run
    # out of time first.
    settings.TEMPLATE_RENDER_SECONDS = settings.TEMPLATE_REQUEST_SECONDS = 300
    from django.test import Client
    from django.urls import reverse

    from tests.templates_app.test_admin import _form_data

    version = demo["payment-reminder"].versions.get(number=1)
    loops = (
        "{% for a in range(100) %}{% for b in range(4000) %}{% endfor %}{% endfor %}ok"
    )
    data = _form_data(version)
    for index in range(int(data["contents-TOTAL_FORMS"])):
        if f"contents-{index}-subject" in data and data[f"contents-{index}-subject"]:
            data[f"contents-{index}-subject"] = loops
    client = Client()
    client.force_login(author)

    response = client.post(
        reverse("admin:templates_app_templateversion_change", args=[version.pk]), data
    )

    assert response.status_code == 200
    assert "over 1000000 steps" in response.content.decode()
