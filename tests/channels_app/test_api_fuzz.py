"""schemathesis over the OpenAPI schema against the live server: no 5xx, ever.

Every operation the schema describes is called with cases generated from it,
valid ones (positive) and ones that break it (negative), over HTTP on
loopback, as an API client with a token. A server error is a failure; every
other answer (2xx, 4xx) is the API doing its job. The examples are bounded
and derandomised so the run stays the same and within about two minutes on
a busy machine; `API_FUZZ_EXAMPLES=200` runs a longer hunt with new cases.
"""

import os

import pytest
import requests
import schemathesis
from django.contrib.auth.models import Group
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from ccm.roles import API_CLIENT
from tests.factories import user_build

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "15"))
# The same cases every run in CI; a longer hunt draws new ones each time.
DERANDOMIZE = "API_FUZZ_EXAMPLES" not in os.environ

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def token(demo_templates) -> str:
    system = user_build(username="core-banking", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    return Token.objects.create(user=system).key


def _schema(base_url: str, headers: dict):
    answer = requests.get(
        f"{base_url}/api/v1/schema?format=json", headers=headers, timeout=30
    )
    answer.raise_for_status()
    schema = schemathesis.openapi.from_dict(answer.json())
    schema.config.update(base_url=base_url)
    return schema


def test_no_input_the_schema_allows_or_breaks_is_a_server_error(
    live_server, token, settings
):
    # Webhooks configured, so their signature checks are what answers (403),
    # not the 503 of a deployment that has not set a secret.
    settings.RECEIPT_WEBHOOK_SECRET = "fuzz-secret"  # noqa: S105
    headers = {"Authorization": f"Token {token}"}
    schema = _schema(live_server.url, headers)
    session = requests.Session()
    errors: list[str] = []
    calls = {"count": 0}
    skipped: list[str] = []

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @examples(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=DERANDOMIZE,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case):
                response = case.call(
                    base_url=live_server.url,
                    session=session,
                    headers=headers,
                    timeout=30,
                )
                calls["count"] += 1
                if response.status_code >= 500:
                    errors.append(
                        f"{response.status_code} {case.method} {case.formatted_path} "
                        f"query={case.query!r} headers={case.headers!r} "
                        f"body={case.body!r}: {response.text[:300]}"
                    )

            try:
                call()
            except Unsatisfiable:
                # Nothing in this mode (no parameter or body a case could break).
                skipped.append(f"{operation.label} {mode.value}")

    assert calls["count"] >= len(operations) * 2
    print(f"{calls['count']} calls; no cases for {skipped}")  # noqa: T201
    assert errors == [], "\n".join(errors[:20])
