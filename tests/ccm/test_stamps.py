"""A stamped fragment prints what its template would print, rendered once a language."""

import pytest
from django.template import TemplateSyntaxError
from django.template.loader import render_to_string
from django.test import override_settings
from django.test.signals import template_rendered
from django.utils import translation
from django.utils.html import format_html

from ccm import stamps

LOCMEM = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {
            "loaders": [
                (
                    "django.template.loaders.locmem.Loader",
                    {
                        "card.html": (
                            '{% load i18n %}<p title="{{ name }}">'
                            '{% translate "Log out" %} {{ name }}</p>'
                            "{{ extra }}{% csrf_token %}"
                        ),
                        "shouting.html": "<p>{{ name|upper }}</p>",
                        "cut.html": "<p>{{ name|truncatechars:8 }}</p>",
                        "twice.html": (
                            "<p>{{ name }}</p><p>{{ name|truncatechars:12 }}</p>"
                        ),
                    },
                )
            ]
        },
    }
]

VALUES = {
    "name": 'O\'Brien & "Sons" <b>',
    "extra": format_html("<em>{}</em>", "kept as given"),
    "csrf_token": "tok<en>",
}


@pytest.fixture(autouse=True)
def _fresh():
    stamps._made.clear()
    yield
    stamps._made.clear()


@override_settings(TEMPLATES=LOCMEM)
@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_stamped_fragment_is_what_the_template_renders(language):
    with translation.override(language):
        rendered = render_to_string("card.html", VALUES)
        assert stamps.stamp("card.html", VALUES) == rendered
        # Escaped where the template escapes, safe HTML passed through.
        assert "O&#x27;Brien &amp; &quot;Sons&quot; &lt;b&gt;" in stamps.stamp(
            "card.html", VALUES
        )
    with translation.override("ar"):
        assert "تسجيل الخروج" in stamps.stamp("card.html", VALUES)


@override_settings(TEMPLATES=LOCMEM)
def test_the_template_is_rendered_only_when_a_languages_fragment_is_made():
    renders = []

    def count(sender, template, **kwargs):
        renders.append(template.name)

    template_rendered.connect(count)
    try:
        stamps.stamp("card.html", {**VALUES, "name": "Ann"})
        # Made from two renderings with different stand-ins (the check).
        assert renders == ["card.html", "card.html"]
        for name in ("Bob", "Cy"):
            stamps.stamp("card.html", {**VALUES, "name": name})
        assert len(renders) == 2, "later pages render nothing"
        with translation.override("ar"):
            arabic = stamps.stamp("card.html", {**VALUES, "name": "Dee"})
    finally:
        template_rendered.disconnect(count)

    assert renders == ["card.html"] * 4
    assert "Dee" in arabic


@override_settings(TEMPLATES=LOCMEM)
@pytest.mark.parametrize("template", ["shouting.html", "cut.html"])
def test_a_fragment_that_changes_a_value_is_refused(template):
    with pytest.raises(TemplateSyntaxError, match="does not print name as given"):
        stamps.stamp(template, {"name": "Ann"})


@override_settings(TEMPLATES=LOCMEM)
def test_a_value_printed_whole_and_also_cut_is_refused():
    with pytest.raises(TemplateSyntaxError, match="does not print a value as given"):
        stamps.stamp("twice.html", {"name": "Ann"})
