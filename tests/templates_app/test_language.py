"""Language choice: the customer's language, else the default, else an error."""

import pytest
from django.utils import translation

from ccm.problems import problems_api
from templates_app.selectors import LanguageUnavailable, language_choose
from tests.templates_app.conftest import make_template


@pytest.fixture
def version(category, author):
    return make_template(
        category,
        author,
        channels=["email", "sms"],
        default_language="ar",
        contents=[
            ("email", "en", {"subject": "Hi", "html": "<p>Hi</p>"}),
            ("email", "ar", {"subject": "مرحبا", "html": "<p>مرحبا</p>"}),
            ("sms", "ar", {"sms_text": "مرحبا"}),
        ],
    )


def test_customer_language_is_used_when_the_version_has_it(version):
    assert language_choose(version, channel="email", customer_language="en") == "en"


def test_default_language_is_used_otherwise(version):
    assert language_choose(version, channel="sms", customer_language="en") == "ar"
    assert language_choose(version, channel="email", customer_language=None) == "ar"


def test_error_when_neither_language_has_content(version):
    # The default language the version carries decides, not the template's.
    version.default_language = "en"
    with pytest.raises(LanguageUnavailable) as refused:
        language_choose(version, channel="sms", customer_language="fr")

    assert refused.value.code == "templates.language.unavailable"
    with translation.override("en"):
        assert "has no SMS content in fr nor in the default language English" in str(
            refused.value
        )
    with translation.override("ar"):
        arabic = problems_api({"language": refused.value.problems})["language"][0]
    assert arabic["code"] == "templates.language.unavailable"
    assert "الإنجليزية" in arabic["message"], arabic
