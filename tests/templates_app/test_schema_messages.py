"""A data mismatch reads in the reader's language, naming the value and the rule."""

import pytest
from django.utils import translation

from templates_app.validation import data_problems

SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "amount": {"type": "number", "minimum": 1},
        "kind": {"enum": ["a", "b"]},
        "code": {"type": "string", "maxLength": 3},
    },
    "additionalProperties": False,
}
DATA = {"amount": "ten", "kind": "c", "code": "abcd", "extra": 1}


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "/: name is required",
                "/: has fields the schema does not allow: extra",
                '/amount: "ten" must be a number',
                '/code: "abcd" must be at most 3 characters long',
                '/kind: "c" must be one of "a", "b"',
            ],
        ),
        (
            "ar",
            [
                "/: الحقل name مطلوب",
                "/: فيه حقول لا يسمح بها المخطط: extra",
                '/amount: يجب أن تكون القيمة "ten" رقمًا',
                '/code: يجب ألا يزيد طول "abcd" على 3 من الأحرف',
                '/kind: يجب أن تكون القيمة "c" واحدة من "a", "b"',
            ],
        ),
    ],
)
def test_each_mismatch_reads_in_the_readers_language(language, expected):
    with translation.override(language):
        assert data_problems(SCHEMA, DATA) == expected
