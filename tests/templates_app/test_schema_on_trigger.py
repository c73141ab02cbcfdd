"""A stored schema is held to the rules on every trigger: no fetch, no runaway pattern.

Schemas saved before a rule existed (or a pattern the save check does not
recognise) reach the validator of the trigger path; it must refuse clearly.
"""

from unittest import mock

import pytest
import regex
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccm.roles import API_CLIENT
from channels_app.models import Communication
from templates_app import selectors
from templates_app.data_schemas import patterns_scope
from templates_app.hashing import version_hash
from templates_app.models import TemplateVersion
from templates_app.validation import schema_problems, schema_validator
from templates_app.validation import validator_problems as problems_of
from tests.factories import user_build
from tests.templates_app.test_schema_safety import listener  # noqa: F401

# `^(a|a)*$` backtracks 2^n times on n "a"s and a final "!": days at 40.
HOSTILE = "^(a|a)*$"
HOSTILE_TEXT = "a" * 40 + "!"


def _object(**properties):
    return {"type": "object", "properties": properties}


def test_a_hostile_pattern_is_refused_at_save():
    (problem,) = schema_problems(_object(code={"type": "string", "pattern": HOSTILE}))
    assert HOSTILE in problem


def test_a_hostile_pattern_that_slipped_through_is_stopped_with_a_clear_error():
    validator = schema_validator(_object(code={"type": "string", "pattern": HOSTILE}))

    (problem,) = problems_of(validator, {"code": HOSTILE_TEXT})

    assert problem.startswith("/code: The pattern ^(a|a)*$ takes too long")
    assert problems_of(validator, {"code": "aaa"}) == []
    assert problems_of(validator, {"code": "b"}) == [
        '/code: "b" does not match the pattern ^(a|a)*$'
    ]


def test_a_stopped_pattern_is_not_run_again_on_the_next_values():
    """Fifty hostile values cost one timeout, not fifty."""
    validator = schema_validator(
        _object(
            codes={"type": "array", "items": {"type": "string", "pattern": HOSTILE}}
        )
    )

    with mock.patch.object(regex, "search", wraps=regex.search) as search:
        found = problems_of(validator, {"codes": [HOSTILE_TEXT] * 50})

    assert len(found) == 50 and all("takes too long" in p for p in found)
    assert search.call_count == 1


def test_a_batch_shares_the_stopped_patterns_across_its_rows():
    validator = schema_validator(_object(code={"type": "string", "pattern": HOSTILE}))

    with (
        mock.patch.object(regex, "search", wraps=regex.search) as search,
        patterns_scope(),
    ):
        rows = [problems_of(validator, {"code": HOSTILE_TEXT}) for _ in range(20)]

    assert all("takes too long" in problem for (problem,) in rows)
    assert search.call_count == 1
    # Outside the batch the next payload is checked afresh.
    assert problems_of(validator, {"code": "aaa"}) == []


def test_a_hostile_pattern_property_name_is_stopped_with_a_clear_error():
    validator = schema_validator(
        {
            "type": "object",
            "patternProperties": {HOSTILE: {"type": "string"}},
            "additionalProperties": False,
        }
    )

    found = problems_of(validator, {HOSTILE_TEXT: "x"})

    assert found and all("takes too long" in problem for problem in found)
    assert problems_of(validator, {"aa": "x"}) == []
    assert problems_of(validator, {"b": "x"}) == [
        "/: 'b' does not match any of the regexes: '^(a|a)*$'"
    ]


def test_unevaluated_properties_beside_pattern_properties_is_refused():
    schema = {
        "type": "object",
        "patternProperties": {"^x": {"type": "string"}},
        "unevaluatedProperties": False,
    }
    (problem,) = schema_problems(schema)
    assert "unevaluatedProperties" in problem

    (problem,) = problems_of(schema_validator(schema), {HOSTILE_TEXT: "x"})
    assert "unevaluatedProperties" in problem


def test_a_value_checked_as_a_regex_that_nests_thousands_deep_is_refused():
    validator = schema_validator(_object(rule={"type": "string", "format": "regex"}))

    (problem,) = problems_of(validator, {"rule": "(" * 5000 + "a" + ")" * 5000})

    assert problem.startswith("/rule:") and "regex" in problem


def test_references_that_double_the_work_at_every_step_are_cut_off():
    """40 definitions, each "either the next or the next": 2^40 checks unbounded."""
    definitions = {
        f"d{n}": {"anyOf": [{"$ref": f"#/$defs/d{n + 1}"}] * 2} for n in range(40)
    }
    definitions["d40"] = {"type": "integer"}
    schema = {**_object(code={"$ref": "#/$defs/d0"}), "$defs": definitions}
    assert schema_problems(schema) == []
    validator = schema_validator(schema)

    (problem,) = problems_of(validator, {"code": "not a number"})

    assert "references lead to more than 1000 checks" in problem
    assert problems_of(validator, {"code": 7}) == []


def test_a_reference_to_itself_is_a_clear_refusal_not_a_500():
    schema = _object(code={"$ref": "#/properties/code"})

    (problem,) = problems_of(schema_validator(schema), {"code": "x"})

    assert "loop without end" in problem


@pytest.fixture
def api(demo_templates):
    system = user_build(username="core-banking", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")
    return client


def _stored_schema(template, schema: dict) -> None:
    """Put a schema on the version in force as if saved before the rules.

    The workflow's queryset refuses to change a frozen field, so the row is
    written as an older release (or a restored backup) left it.
    """
    version = selectors.version_in_force(template)
    version.data_schema = schema
    QuerySet(TemplateVersion).filter(pk=version.pk).update(
        data_schema=schema, content_hash=version_hash(version)
    )


def _trigger(api, data: dict):
    return api.post(
        "/api/v1/communications",
        {
            "template": "payment-reminder",
            "customer": {
                "external_id": "C-42",
                "name": "Fatimah Al-Harbi",
                "email": "fatimah@example.com",
                "language": "en",
            },
            "data": data,
            "data_source": {"system": "core-banking", "reference": "INV-77"},
            "channels": "auto",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )


def _data(**extra):
    return {
        "customer": {"name": "Fatimah Al-Harbi"},
        "policy_number": "MT-204518",
        "amount": 1250.5,
        "currency": "SAR",
        "due_date": "2026-12-15",
        **extra,
    }


def _with(template, **properties) -> dict:
    schema = selectors.version_in_force(template).data_schema
    return {**schema, "properties": {**schema["properties"], **properties}}


@pytest.mark.django_db
def test_a_trigger_with_a_stored_remote_reference_is_refused_without_a_fetch(
    api,
    demo_templates,
    listener,  # noqa: F811
):
    url, requests = listener
    template = demo_templates["payment-reminder"]
    _stored_schema(template, _with(template, reference={"$ref": f"{url}/a.json"}))

    response = _trigger(api, _data(reference="R-1"))

    assert response.status_code == 400, response.content
    assert "references outside the schema are not allowed" in response.content.decode()
    assert requests == []
    assert not Communication.objects.exists()


@pytest.mark.django_db
def test_a_trigger_with_a_stored_hostile_pattern_is_refused_not_hung(
    api, demo_templates
):
    template = demo_templates["payment-reminder"]
    _stored_schema(
        template, _with(template, reference={"type": "string", "pattern": HOSTILE})
    )

    response = _trigger(api, _data(reference=HOSTILE_TEXT))

    assert response.status_code == 400, response.content
    assert "takes too long" in response.content.decode()
    assert not Communication.objects.exists()
