"""Whatever CSV file an operator uploads as a batch: a page naming the problem
or the batch's page, never a 500.

hypothesis draws files from the columns a batch reads and some it does not,
cells an attacker or a spreadsheet would write (inf, NaN, 1e999, formulas,
NUL, bidi marks, quotes and line breaks, dates past the calendar's ends,
numbers of any size), three delimiters, a byte-order mark or not, and now and
then bytes that are not UTF-8; with them the upload form's channels and
schedule. An accepted file's batch page is opened too.
"""

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from ccm.roles import OPERATOR
from tests.factories import user_build

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

COLUMNS = st.sampled_from(
    [
        "external_id",
        "name",
        "email",
        "phone",
        "language",
        "time_zone",
        "postal_address",
        "digits",
        "calendar",
        "correlation_key",
        "source_reference",
        "scope",
        "supersedes",
        "waits_for",
        "customer.name",
        "policy_number",
        "amount",
        "currency",
        "due_date",
        "customer.name.first",
        "amount.value",
        "",
        " ",
        "a" * 300,
        "\x00",
    ]
)
CELLS = st.one_of(
    st.sampled_from(
        [
            "inf",
            "-Infinity",
            "NaN",
            "1e999",
            "1e308",
            str(10**40),
            "-0",
            '=HYPERLINK("http://x")',
            "+1",
            "@SUM(A1)",
            "\x00",
            "a\x00b",
            "\u202egnp.exe",
            '"',
            "a,b",
            "line\nbreak",
            "9999-12-31",
            "0001-01-01",
            "true",
            "yes",
            "0501234567",
            "+9665",
            "r@example.com",
            "not-an-email",
            "ar",
            "xx",
            "Asia/Riyadh",
            "Mars/Olympus",
            "payment-reminder",
            "no-such-template",
            "latin",
            "hijri",
            "x" * 5000,
        ]
    ),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@st.composite
def csv_files(draw) -> bytes:
    header = draw(st.lists(COLUMNS, min_size=1, max_size=10))
    if draw(st.booleans()):
        header = ["external_id", *header]
    rows = draw(
        st.lists(
            st.lists(CELLS, min_size=len(header), max_size=len(header))
            | st.lists(CELLS, max_size=len(header) + 2),
            max_size=6,
        )
    )
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    content = text.getvalue().encode("utf-8")
    if draw(st.booleans()):
        content = b"\xef\xbb\xbf" + content
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        content += draw(st.binary(min_size=1, max_size=20))
    return content


SCHEDULES = st.sampled_from(
    ["", "9999-12-31 23:59", "0001-01-01 00:00", "2030-01-01 09:00", "nonsense"]
)
CHANNELS = st.lists(st.sampled_from(["email", "sms", "letter", "fax"]), max_size=3)
VALID = (
    b"external_id,name,email,customer.name,policy_number,amount,currency,due_date\n"
    b"B-1,Reem,reem@example.com,Reem,MT-204518,125.5,SAR,2026-12-15\n"
)


@pytest.fixture
def operator_browser(demo_templates, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    user = user_build(username="op")
    user.groups.add(Group.objects.get(name=OPERATOR))
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_no_uploaded_csv_is_a_server_error(operator_browser):
    @examples(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(content=csv_files(), schedule=SCHEDULES, channels=CHANNELS)
    @example(content=VALID, schedule="", channels=["email", "sms"])
    @example(content=VALID, schedule="2030-01-01 09:00", channels=[])
    @example(content=VALID.replace(b"125.5", b"1e999"), schedule="", channels=[])
    def upload(content, schedule, channels):
        response = operator_browser.post(
            "/admin/channels_app/batch/upload/",
            {
                "template": "payment-reminder",
                "file": SimpleUploadedFile("batch.csv", content, "text/csv"),
                "schedule": schedule,
                "channels": channels,
            },
        )
        assert response.status_code in {200, 302}, (content, response.status_code)
        if response.status_code == 302:
            page = operator_browser.get(response["Location"])
            assert page.status_code == 200, (content, channels)
            accepted.append(content)

    accepted: list[bytes] = []
    upload()
    assert VALID in accepted  # the batch pages were opened
