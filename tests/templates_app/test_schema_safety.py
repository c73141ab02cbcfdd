"""A data schema never fetches, stays small and never backtracks without bound."""

import http.server
import json
import threading

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from templates_app import categories
from templates_app.validation import (
    data_problems,
    schema_problems,
    schema_validator,
    validator_problems,
)
from tests.templates_app.conftest import AUTHOR_PERMISSIONS, grant, user_with


@pytest.fixture
def listener():
    """A loopback HTTP server that records every request it gets."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            requests.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", requests
    server.shutdown()
    server.server_close()


def _object(**properties):
    return {"type": "object", "properties": properties}


def test_a_remote_reference_is_refused_without_a_fetch(listener):
    url, requests = listener
    problems = schema_problems(_object(name={"$ref": f"{url}/a.json"}))

    assert len(problems) == 1
    assert "/properties/name" in problems[0]
    assert "only within the schema" in problems[0]
    assert requests == []


def test_a_file_reference_is_refused_and_the_file_never_shown():
    problems = schema_problems(_object(name={"$ref": "file:///etc/passwd"}))

    assert len(problems) == 1
    assert problems[0].startswith(
        "References outside the schema are not allowed: file:///etc/passwd"
    )
    assert "root:" not in problems[0]


@pytest.mark.parametrize(
    "ref", ["file:///etc/passwd", "/etc/passwd", "urn:x:y", "other.json#/a"]
)
def test_a_stored_schema_never_reads_a_file_on_a_trigger(ref):
    validator = schema_validator(_object(name={"$ref": ref}))

    (problem,) = validator_problems(validator, {"name": "Huda"})

    assert "references outside the schema are not allowed" in problem
    assert "root:" not in problem


def test_a_reference_within_the_schema_still_works():
    schema = {
        **_object(name={"$ref": "#/$defs/name"}),
        "$defs": {"name": {"type": "string", "maxLength": 3}},
    }
    assert schema_problems(schema) == []
    assert data_problems(schema, {"name": "Huda"})  # too long: the $ref is followed
    assert data_problems(schema, {"name": "Ali"}) == []


def test_a_stored_schema_with_a_remote_reference_refuses_the_data_without_a_fetch(
    listener,
):
    """Schemas saved before the rule still never fetch on a trigger."""
    url, requests = listener
    validator = schema_validator(_object(name={"$ref": f"{url}/a.json"}))

    problems = validator_problems(validator, {"name": "Huda"})

    assert len(problems) == 1
    assert "cannot be resolved" in problems[0]
    assert requests == []


def test_an_oversized_schema_is_refused():
    schema = _object(**{f"field_{n}": {"type": "string"} for n in range(5000)})
    (problem,) = schema_problems(schema)
    assert "bytes long; the limit is 50000" in problem


@override_settings(TEMPLATES_SCHEMA_MAX_BYTES=2_000, TEMPLATES_SCHEMA_MAX_DEPTH=6)
def test_the_limits_are_settings_and_count_bytes():
    # 300 Arabic letters are 600 bytes of UTF-8: four such titles pass 2,000.
    titles = {f"f{n}": {"type": "string", "title": "ب" * 300} for n in range(4)}
    (problem,) = schema_problems(_object(**titles))
    assert "the limit is 2000" in problem

    assert schema_problems(_object(a=_object(b={"type": "string"}))) == []
    (problem,) = schema_problems(_object(a=_object(b=_object(c={"type": "string"}))))
    assert "more than 6 levels" in problem


def test_a_deeply_nested_schema_is_refused():
    schema = {"type": "object"}
    for _ in range(40):
        schema = _object(inner=schema)
    (problem,) = schema_problems(schema)
    assert "nested" in problem


@pytest.mark.parametrize(
    "pattern", ["^(a+)+$", "(a*)*", "^(a|a)*$", "(x+x+)+y", "^([a-z]*)*$", "(\\d+){5}"]
)
def test_a_pattern_that_can_backtrack_without_bound_is_refused(pattern):
    (problem,) = schema_problems(_object(code={"type": "string", "pattern": pattern}))
    assert pattern in problem
    assert "/properties/code/pattern" in problem


def test_a_backtracking_pattern_property_name_is_refused():
    (problem,) = schema_problems(
        {"type": "object", "patternProperties": {"^(a+)+$": {"type": "string"}}}
    )
    assert "^(a+)+$" in problem


@pytest.mark.parametrize(
    "pattern", ["^[A-Z]{2}-\\d{6}$", "^\\+[1-9]\\d{7,14}$", "^(\\d{3}-)+\\d{4}$"]
)
def test_ordinary_patterns_are_accepted(pattern):
    assert schema_problems(_object(code={"type": "string", "pattern": pattern})) == []


@pytest.mark.django_db
def test_the_admin_shows_a_remote_reference_as_a_form_error(listener):
    url, requests = listener
    collections = categories.category_create(
        actor=None, code="collections", name="Collections", name_ar="التحصيل"
    )
    author = grant(
        collections, "author_category", user_with("amal", AUTHOR_PERMISSIONS)
    )
    client = Client()
    client.force_login(author)

    response = client.post(
        reverse("admin:templates_app_template_add"),
        {
            "code": "welcome",
            "name": "Welcome",
            "category": collections.pk,
            "description": "",
            "channels": ["email"],
            "default_language": "en",
            "data_schema": json.dumps(_object(name={"$ref": f"{url}/a.json"})),
            "sample_data": '{"name": "Huda"}',
            "versions-TOTAL_FORMS": 0,
            "versions-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 200
    assert "only within the schema" in response.content.decode()
    assert requests == []


@pytest.mark.django_db
def test_the_admin_refuses_a_file_reference_without_reading_it():
    collections = categories.category_create(
        actor=None, code="collections", name="Collections", name_ar="التحصيل"
    )
    author = grant(
        collections, "author_category", user_with("amal", AUTHOR_PERMISSIONS)
    )
    client = Client()
    client.force_login(author)

    response = client.post(
        reverse("admin:templates_app_template_add"),
        {
            "code": "welcome",
            "name": "Welcome",
            "category": collections.pk,
            "description": "",
            "channels": ["email"],
            "default_language": "en",
            "data_schema": json.dumps(_object(name={"$ref": "file:///etc/passwd"})),
            "sample_data": '{"name": "Huda"}',
            "versions-TOTAL_FORMS": 0,
            "versions-INITIAL_FORMS": 0,
        },
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "References outside the schema are not allowed: file:///etc/passwd" in body
    assert "root:" not in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "text", "fragment"),
    [
        ("sample_data", '{"name": "\\ud800"}', "surrogate"),
        ("sample_data", '{"name": "a\\u0000b"}', "NUL"),
        ("sample_data", '{"name": NaN}', "finite"),
        ("data_schema", '{"type": "object", "maximum": 1e999}', "finite"),
    ],
)
def test_json_the_database_cannot_hold_is_a_form_error(field, text, fragment):
    collections = categories.category_create(
        actor=None, code="collections", name="Collections", name_ar="التحصيل"
    )
    author = grant(
        collections, "author_category", user_with("amal", AUTHOR_PERMISSIONS)
    )
    client = Client(raise_request_exception=False)
    client.force_login(author)
    fields = {
        "code": "welcome",
        "name": "Welcome",
        "category": collections.pk,
        "description": "",
        "channels": ["email"],
        "default_language": "en",
        "data_schema": json.dumps(_object(name={"type": "string"})),
        "sample_data": '{"name": "Huda"}',
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
    }

    response = client.post(
        reverse("admin:templates_app_template_add"), {**fields, field: text}
    )

    assert response.status_code == 200
    assert fragment in response.content.decode()


def test_a_pattern_nesting_groups_thousands_deep_is_refused_not_a_500():
    pattern = "(" * 2000 + "a" + ")" * 2000
    (problem,) = schema_problems(_object(code={"type": "string", "pattern": pattern}))
    assert "too deeply" in problem
