"""Counts read right in Arabic: six plural forms, each filled."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import translation
from django.utils.translation import ngettext

CATALOGUE = Path(settings.BASE_DIR) / "locale/ar/LC_MESSAGES/django.po"
# One count for each Arabic form: zero, one, two, few, many, other.
COUNTS = (0, 1, 2, 5, 11, 100)


def test_the_catalogue_declares_arabics_six_plural_forms():
    header = CATALOGUE.read_text().split("\n\n", 1)[0].replace('"\n"', "")
    match = re.search(r"nplurals=(\d+); plural=([^;]+);", header)
    assert match and match.group(1) == "6", header
    formula = match.group(2).replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"(.+?) \? (.+?) : ", r"(\2) if (\1) else ", formula)

    def form(n: int) -> int:
        return eval(python, {"n": n})  # noqa: S307 (the catalogue's own formula)

    assert [form(n) for n in (0, 1, 2, 3, 10, 11, 99, 100, 102, 103, 111, 1000)] == [
        0, 1, 2, 3, 3, 4, 4, 5, 5, 3, 4, 5
    ]  # fmt: skip


def test_every_plural_message_has_six_different_words_where_arabic_needs_them():
    entries = CATALOGUE.read_text().split("\n\n")
    plurals = [e for e in entries if "msgid_plural" in e and not e.startswith("#~")]
    assert plurals
    for entry in plurals:
        # A form may be wrapped over several quoted lines (msgstr[1] "" then "...").
        forms = [
            (index, "".join(re.findall(r'"(.*)"', quoted)))
            for index, quoted in re.findall(
                r'^msgstr\[(\d)\] ((?:".*"\n?)+)', entry, flags=re.M
            )
        ]
        assert [int(i) for i, _ in forms] == list(range(6)), entry
        assert all(text for _, text in forms), entry


@pytest.mark.parametrize(
    ("singular", "plural", "expected"),
    [
        (
            "%(count)d dispatch updated.",
            "%(count)d dispatches updated.",
            [
                "لم تُحدَّث أي إرسالية.",
                "حُدِّثت إرسالية واحدة.",
                "حُدِّثت إرساليتان.",
                "حُدِّثت 5 إرساليات.",
                "حُدِّثت 11 إرسالية.",
                "حُدِّثت 100 إرسالية.",
            ],
        ),
        (
            "%(count)d batch resumed.",
            "%(count)d batches resumed.",
            [
                "لم تُستأنف أي دفعة.",
                "استُؤنفت دفعة واحدة.",
                "استُؤنفت دفعتان.",
                "استُؤنفت 5 دفعات.",
                "استُؤنفت 11 دفعة.",
                "استُؤنفت 100 دفعة.",
            ],
        ),
    ],
)
def test_admin_action_counts_take_the_arabic_form_of_each_number(
    singular, plural, expected
):
    with translation.override("ar"):
        said = [ngettext(singular, plural, n) % {"count": n} for n in COUNTS]
    assert said == expected


def test_dashboard_counts_in_templates_take_the_arabic_form():
    template = Template(
        "{% load i18n %}{% blocktranslate count n=resolved %}{{ n }} complaint "
        "resolved{% plural %}{{ n }} complaints resolved{% endblocktranslate %}"
    )
    with translation.override("ar"):
        said = [template.render(Context({"resolved": n})) for n in COUNTS]
    assert said == [
        "لم تُحلّ أي شكوى",
        "حُلّت شكوى واحدة",
        "حُلّت شكويان",
        "حُلّت 5 شكاوى",
        "حُلّت 11 شكوى",
        "حُلّت 100 شكوى",
    ]
