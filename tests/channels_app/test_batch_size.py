"""A batch of the documented 100,000 rows goes through the API; more is a clear 413."""

import gzip
import json

import pytest

from channels_app.models import Batch, BatchRow, Communication
from tests.channels_app.test_bad_input import BODY, api  # noqa: F401

pytestmark = pytest.mark.django_db


def _rows(count: int) -> list[dict]:
    return [
        {
            "customer": {
                "external_id": f"C-{number}",
                "name": "Fatimah Al-Harbi",
                "email": f"c{number}@example.com",
            },
            "data": BODY["data"],
            "source_reference": f"INV-{number}",
        }
        for number in range(1, count + 1)
    ]


def _batch(rows: list[dict]) -> bytes:
    body = {"template": "payment-reminder", "source_system": "core", "rows": rows}
    return json.dumps(body).encode()


def _post(api, body: bytes, **headers):  # noqa: F811
    return api.post(
        "/api/v1/batches",
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="batch-1",
        **headers,
    )


def _codes(response, field="detail") -> list[str]:
    return [error["code"] for error in response.json()[field]]


def test_a_batch_of_100000_rows_is_accepted(api):  # noqa: F811
    body = _batch(_rows(100_000))
    assert len(body) > 2_621_440 * 10  # ten times Django's default body limit

    response = _post(api, body)

    assert response.status_code == 202, response.content[:500]
    assert response.json()["total"] == 100_000
    assert BatchRow.objects.count() == 100_000


def test_100001_rows_are_refused_with_a_413_naming_the_limit(api):  # noqa: F811
    response = _post(api, _batch(_rows(100_001)))

    assert response.status_code == 413, response.content[:500]
    (error,) = response.json()["rows"]
    assert error["code"] == "batch.rows.too_many"
    assert error["params"] == {"count": 100_001, "limit": 100_000}
    assert "100000" in error["message"]
    assert not Batch.objects.exists()
    # The key was not spent: a smaller batch with it goes through.
    assert _post(api, _batch(_rows(2))).status_code == 202


def test_a_body_over_the_byte_limit_is_a_413_before_it_is_read(api, settings):  # noqa: F811
    settings.BATCH_MAX_BODY_BYTES = 10_000

    response = _post(api, _batch(_rows(100)))

    assert response.status_code == 413
    assert _codes(response) == ["api.body.too_large"]
    assert response.json()["detail"][0]["params"] == {"limit": 10_000}


def test_a_gzip_body_is_accepted_and_bounded_unpacked(api, settings):  # noqa: F811
    body = _batch(_rows(50))
    packed = gzip.compress(body)

    accepted = _post(api, packed, HTTP_CONTENT_ENCODING="gzip")

    assert accepted.status_code == 202, accepted.content[:500]
    assert accepted.json()["total"] == 50

    settings.BATCH_MAX_BODY_BYTES = len(body) - 1
    bomb = gzip.compress(b" " * (len(body) * 100) + body)
    refused = _post(api, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert refused.status_code == 413
    assert _codes(refused) == ["api.body.too_large_unpacked"]


@pytest.mark.parametrize(
    ("body", "encoding", "status"),
    [(b"\x1f\x8b\x08garbage", "gzip", 400), (b"{}", "br", 415)],
)
def test_a_body_that_cannot_be_unpacked_is_a_4xx(api, body, encoding, status):  # noqa: F811
    response = _post(api, body, HTTP_CONTENT_ENCODING=encoding)

    assert response.status_code == status, response.content


def test_other_endpoints_answer_a_large_body_with_a_413_not_a_bare_400(api):  # noqa: F811
    body = {**BODY, "data": {**BODY["data"], "filler": "x" * 3_000_000}}

    response = api.post(
        "/api/v1/communications",
        json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="big",
    )

    assert response.status_code == 413
    assert _codes(response) == ["api.body.too_large"]
    assert not Communication.objects.exists()
