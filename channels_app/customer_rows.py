"""The customers of many trigger rows, created or updated together.

A batch chunk and a drain of queued API triggers (`channels_app.intake`) both
name customers by external id with the fields to store; each row gets its
customer or the refusal of its customer fields.
"""

from collections.abc import Hashable, Sequence

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError

from ccm.problems import Problem
from channels_app import problems
from customers.models import Customer
from customers.services import customer_upsert, customers_create_bulk, phone_normalise


def customers_upsert_rows(
    rows: Sequence[tuple[Hashable, dict]],
    *,
    actor: AbstractBaseUser | None,
    actor_label: str = "",
) -> tuple[dict[Hashable, Customer], dict[Hashable, dict[str, list[dict]]]]:
    """Return each row's customer, created or updated from its fields, or its refusal.

    `rows` are (row key, customer fields with `external_id`). Existing
    customers are locked in id order before any audit write, the order the
    rules and the outbox claim lock customers in
    (`channels_app.ruling.customers_lock`), so a chunk cannot deadlock with a
    claim or another chunk.
    """
    external_ids = sorted({fields["external_id"] for _key, fields in rows})
    known = {
        customer.external_id: customer
        for customer in Customer.objects.select_for_update()
        .filter(external_id__in=external_ids)
        .order_by("id")
    }
    customers: dict[Hashable, Customer] = {}
    refusals: dict[Hashable, dict[str, list[dict]]] = {}
    # The first row naming each new customer creates it, all in one go; later
    # rows about it update it one by one below, as rows about known ones do.
    new: dict[str, tuple[Hashable, dict[str, str]]] = {}
    for key, given in rows:
        fields = dict(given)
        external_id = fields.pop("external_id")
        if fields and external_id not in known and external_id not in new:
            new[external_id] = (key, fields)
    created = customers_create_bulk(
        customers=[(external_id, fields) for external_id, (_k, fields) in new.items()],
        actor=actor,
        actor_label=actor_label,
    )
    for (external_id, (key, _fields)), result in zip(new.items(), created, strict=True):
        if isinstance(result, ValidationError):
            refusals[key] = customer_refusal(result)
        else:
            known[external_id] = result
    for key, given in rows:
        if key in refusals:
            continue
        fields = dict(given)
        external_id = fields.pop("external_id")
        customer = known.get(external_id)
        if fields and (customer is None or _differs(customer, fields)):
            try:
                customer, _created = customer_upsert(
                    external_id=external_id,
                    actor=actor,
                    actor_label=actor_label,
                    **fields,
                )
            except ValidationError as exc:
                refusals[key] = customer_refusal(exc)
                continue
            known[external_id] = customer
        if customer is None:
            refusals[key] = {
                "customer": [problems.CUSTOMER_UNKNOWN(id=external_id).as_stored()]
            }
            continue
        customers[key] = customer
    return customers, refusals


def customer_refusal(exc: ValidationError) -> dict[str, list[dict]]:
    """Return a row's refusal for a customer the model refused, as stored."""
    return {
        "customer": [
            problems.ROW_CUSTOMER_FIELD(
                field=name,
                problem=error.message
                if isinstance(error.message, Problem)
                else " ".join(error),
            ).as_stored()
            for name, errors in exc.update_error_dict({}).items()
            for error in errors
        ]
    }


def _differs(customer: Customer, fields: dict[str, str]) -> bool:
    for name, value in fields.items():
        if name == "phone":
            try:
                value = phone_normalise(value)
            except ValidationError:
                return True
        if getattr(customer, name) != value:
            return True
    return False
