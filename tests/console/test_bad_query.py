"""Whatever an agent's browser puts in the console's query gets a 400, never a 500."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(agent):
    client = Client(raise_request_exception=False)
    client.force_login(agent)
    return client


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"until": "9999-12-31"}, "To"),
        ({"since": "0001-01-01"}, "From"),
        ({"page": str(10**24)}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
    ],
)
def test_a_timeline_query_out_of_range_is_a_400_naming_it(
    browser, customer, email_dispatch, query, fragment
):
    response = browser.get(f"/agent/customers/{customer.pk}/", query)

    assert response.status_code == 400
    problems = response.context["problems"]
    assert any(fragment in problem for problem in problems), problems
    assert 'role="alert"' in response.content.decode()


def test_an_ordinary_timeline_query_is_still_a_200(browser, customer, email_dispatch):
    response = browser.get(
        f"/agent/customers/{customer.pk}/",
        {"since": "2020-01-01", "until": "2099-12-31", "page": "1"},
    )

    assert response.status_code == 200
    assert [row["pk"] for row in response.context["rows"]] == [email_dispatch.pk]


@pytest.mark.parametrize("query", [{"until": "9999-12-31"}, {"since": "0001-01-01"}])
def test_an_evidence_range_out_of_range_is_a_400(browser, customer, query):
    response = browser.get(f"/agent/customers/{customer.pk}/evidence", query)

    assert response.status_code == 400
