"""Every domain problem has a stable code and reads in Arabic and English."""

import importlib
import re

import pytest
from django.apps import apps
from django.utils import translation

from ccm.problems import Problem, problem_from, problem_kinds, problems_api

PLACEHOLDER = re.compile(r"%\((\w+)\)([sdr])")
ARABIC = re.compile(r"[\u0600-\u06ff]")


@pytest.fixture(scope="module")
def kinds():
    """Return every registered kind, once each app's problems module is loaded."""
    for config in apps.get_app_configs():
        try:
            importlib.import_module(f"{config.name}.problems")
        except ModuleNotFoundError as missing:
            if missing.name != f"{config.name}.problems":
                raise
    importlib.import_module("ccm.urls")  # every view and admin, so every raiser
    return problem_kinds()


def test_the_codes_of_every_family_are_registered(kinds):
    codes = {kind.code for kind in kinds}
    for code in (
        "channels.dispatch.move_refused",
        "channels.reason.required",
        "customers.phone.invalid",
        "trigger.channels.unsupported",
        "templates.language.unavailable",
        "trigger.customer.unknown",
        "templates.review.segregation_author",
        "channels.pause.reason_required",
        "preferences.category.unknown",
        "rules.review.segregation",
    ):
        assert code in codes


def test_every_code_has_an_arabic_message_with_the_same_placeholders(kinds):
    untranslated, mismatched = [], []
    for kind in kinds:
        with translation.override("en"):
            english = str(kind.message)
        with translation.override("ar"):
            arabic = str(kind.message)
        if arabic == english or not ARABIC.search(arabic):
            untranslated.append(kind.code)
        elif set(PLACEHOLDER.findall(arabic)) != set(PLACEHOLDER.findall(english)):
            mismatched.append(kind.code)
    assert not untranslated, f"no Arabic message: {untranslated}"
    assert not mismatched, f"placeholders differ from the English: {mismatched}"


def test_every_message_words_its_parameters_in_both_languages(kinds):
    for kind in kinds:
        problem = kind(**dict.fromkeys(kind.placeholders(), "x"))
        for language in ("en", "ar"):
            with translation.override(language):
                assert "%(" not in str(problem), kind.code


def test_a_problem_is_worded_when_shown_not_when_made():
    problem = Problem(
        "channels.dispatch.move_refused",
        {"dispatch": 7, "status": "sent", "to": "cancelled"},
    )
    with translation.override("en"):
        assert str(problem) == "Dispatch #7 is Sent; it cannot become Cancelled."
    with translation.override("ar"):
        arabic = str(problem)
    assert ARABIC.search(arabic) and "7" in arabic
    assert problem_from(problem.as_stored()) == problem


def test_older_text_stored_before_codes_is_shown_as_written():
    stored = "unknown customer 'C-1': give a name and contact data to create it"

    assert problem_from(stored) == stored
    assert problems_api({"customer": [stored]}) == {
        "customer": [{"code": "invalid", "message": stored}]
    }


def test_every_code_is_documented_for_api_clients(kinds):
    from django.conf import settings

    documented = (settings.BASE_DIR / "docs" / "api-errors.md").read_text()

    assert not [kind.code for kind in kinds if f"`{kind.code}`" not in documented]


def test_a_problem_stored_with_parameters_its_message_no_longer_names_is_shown():
    stored = {"code": "channels.reason.required", "params": {}}
    assert str(problem_from(stored)) == "A reason is required."

    older = problem_from({"code": "trigger.customer.unknown", "params": {}})
    assert str(older).startswith("trigger.customer.unknown")
