"""Whatever an agent's browser puts in the console's query string: never a 500.

hypothesis draws query strings for the customer timeline, the evidence range
and a dispatch page: the parameters the pages read, with dates at and past
the calendar's ends, numbers of any size, text with NUL, surrogates' UTF-8
remnants, bidi marks and percent escapes, and parameters nobody reads.
"""

from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

DATES = st.one_of(
    st.dates().map(str),
    st.sampled_from(
        ["9999-12-31", "0001-01-01", "10000-01-01", "2026-02-30", "-1", "0", ""]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["1e999", "nan", "inf", "0x10", "1.5", " 2 ", "١٢", "²"]),
)
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60
) | st.sampled_from(["\x00", "%00", "\u202e", "email", "sms", "letter", "sent"])
VALUES = st.one_of(DATES, NUMBERS, TEXT)
KEYS = st.sampled_from(
    [
        "channel",
        "status",
        "template",
        "since",
        "until",
        "page",
        "download",
        "format",
        "unmask",
        "x",
    ]
)
QUERIES = st.lists(st.tuples(KEYS, VALUES), max_size=6)

FUZZ = examples(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _query(pairs) -> str:
    return "&".join(f"{quote(key)}={quote(value, safe='')}" for key, value in pairs)


@pytest.fixture
def browser(agent):
    from django.contrib.auth.models import Permission

    agent.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="console",
            codename__in=["export_evidence", "unmask_contact"],
        )
    )
    client = Client(raise_request_exception=False)
    client.force_login(agent)
    return client


def test_no_timeline_query_is_a_server_error(browser, customer, email_dispatch):
    url = f"/agent/customers/{customer.pk}/"

    @FUZZ
    @given(pairs=QUERIES)
    def visit(pairs):
        response = browser.get(f"{url}?{_query(pairs)}")
        assert response.status_code in {200, 400}, (pairs, response.status_code)

    visit()


def test_no_evidence_range_is_a_server_error(browser, customer, email_dispatch):
    url = f"/agent/customers/{customer.pk}/evidence"

    @FUZZ
    @given(pairs=st.lists(st.tuples(st.sampled_from(["since", "until"]), DATES)))
    def download(pairs):
        response = browser.get(f"{url}?{_query(pairs)}")
        assert response.status_code in {200, 400}, (pairs, response.status_code)

    download()


def test_no_dispatch_page_query_is_a_server_error(browser, email_dispatch):
    url = f"/agent/dispatches/{email_dispatch.pk}/"

    @FUZZ
    @given(pairs=QUERIES.filter(lambda pairs: ("format", "pdf") not in pairs))
    def visit(pairs):
        response = browser.get(f"{url}?{_query(pairs)}")
        assert response.status_code in {200, 400}, (pairs, response.status_code)

    visit()
