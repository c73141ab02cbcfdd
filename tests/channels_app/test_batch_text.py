"""A batch row holding what the database cannot store as text is refused at the
door naming its line and column, not accepted and failed later (PostgreSQL
refuses NUL characters in jsonb and text)."""

import pytest

from channels_app.batch_rows import BatchRefused, batch_rows_from_csv
from channels_app.models import Batch
from tests.channels_app.test_batches import _create, _row, operator, templates  # noqa: F401

pytestmark = pytest.mark.django_db

HEADER = "external_id,name,email,customer.name,policy_number,amount,currency,due_date"


@pytest.mark.parametrize(
    ("header", "cells", "column"),
    [
        (HEADER, "C-1,Reem,r@example.com,Re\x00em,MT-204518,12,SAR,2026-12-15", "data"),
        (
            HEADER + ",po\x00licy",
            "C-1,Reem,r@example.com,Reem,MT-204518,12,SAR,2026-12-15,x",
            "data",
        ),
        (HEADER, "C-1,Re\x00em,r@example.com,Reem,MT-204518,12,SAR,2026-12-15", "name"),
    ],
)
def test_a_csv_cell_or_column_with_a_nul_is_refused_naming_the_line(
    templates,  # noqa: F811
    operator,  # noqa: F811
    header,
    cells,
    column,
):
    schema = templates["payment-reminder"].data_schema
    rows = batch_rows_from_csv(f"{header}\n{cells}\n".encode(), schema=schema)

    with pytest.raises(BatchRefused) as refused:
        _create(operator, rows)

    (message,) = refused.value.messages()
    assert message.startswith(f"line 2, column {column}"), message
    assert "NUL" in message
    assert not Batch.objects.exists()


def test_a_row_with_a_lone_surrogate_is_refused(templates, operator):  # noqa: F811
    row = _row(1)
    row["correlation_key"] = "\ud800"

    with pytest.raises(BatchRefused) as refused:
        _create(operator, [row])

    (message,) = refused.value.messages()
    assert "row 1, correlation_key" in message
    assert "surrogate" in message
