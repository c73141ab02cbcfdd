"""Demo customers, preferences and dispatches in every status.

Dispatches are made through the real services (trigger, outbox, receipts,
cancel), so the demo data reads exactly like production data. Failures are
recorded as a provider's answer would be, marked "demo" in their error.
"""

import random
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from channels_app import batches, outbox, services
from channels_app.backends import PermanentError
from channels_app.dispatching import TriggerRefused, communication_trigger
from channels_app.models import Batch, Dispatch
from customers import services as customer_services
from customers.models import Customer, PreferenceEntry

FIRST_EN = ["Sarah", "James", "Amelia", "Daniel", "Grace", "Thomas", "Lina", "Adam"]
LAST_EN = ["Carter", "Hughes", "Bennett", "Collins", "Reed", "Walsh"]
FIRST_AR = ["فاطمة", "محمد", "نورة", "عبدالله", "سارة", "خالد", "ريم", "فيصل"]
LAST_AR = ["الحربي", "القحطاني", "العتيبي", "الدوسري", "الشمري", "الزهراني"]


# The customer a batch row creates (demo_batch); no demo customer has it.
BATCH_NEW_CUSTOMER = {
    "external_id": "CUST-99003",
    "name": "Hala Al-Mutairi",
    "email": "hala@demo.example.com",
}


def demo_contact(n: int) -> dict[str, str]:
    """Return the email, phone and postal address of demo customer number `n`."""
    return {
        "email": f"customer{n}@demo.example.com",
        "phone": f"+96650{1000000 + n * 7919 % 8999999:07d}",
        "postal_address": f"{n + 1} King Fahd Road\nRiyadh 12271\nSaudi Arabia",
    }


def demo_names() -> list[str]:
    """Return every name a demo customer can have (scripts/scan-logs)."""
    return [
        f"{first} {last}"
        for firsts, lasts in ((FIRST_EN, LAST_EN), (FIRST_AR, LAST_AR))
        for first in firsts
        for last in lasts
    ] + [BATCH_NEW_CUSTOMER["name"]]


def _customers(count: int, rng: random.Random) -> list[Customer]:
    customers = []
    for n in range(count):
        arabic = n % 2 == 0
        first = rng.choice(FIRST_AR if arabic else FIRST_EN)
        last = rng.choice(LAST_AR if arabic else LAST_EN)
        customer, _ = customer_services.customer_upsert(
            external_id=f"CUST-{10000 + n}",
            name=f"{first} {last}",
            language="ar" if arabic else "en",
            time_zone="Asia/Riyadh" if n % 5 else "Europe/London",
            **demo_contact(n),
        )
        customers.append(customer)
    return customers


def _preferences(customers: list[Customer], actor: AbstractBaseUser) -> None:
    for customer in customers[3::7]:
        customer_services.preference_set(
            customer=customer,
            channel="letter",
            opted_in=False,
            source=PreferenceEntry.Source.CUSTOMER,
            legal_basis=PreferenceEntry.LegalBasis.CONSENT,
            note="paperless",
            actor=actor,
        )
    for customer in customers[5::11]:
        customer_services.preference_set(
            customer=customer,
            channel="any",
            category="collections",
            scope="card-4401",
            opted_in=False,
            source=PreferenceEntry.Source.CONTACT_CENTER,
            legal_basis=PreferenceEntry.LegalBasis.CONSENT,
            note="no collections messages about this card",
            actor=actor,
        )
    customer_services.suppression_add(
        channel="email",
        address=customers[1].email,
        reason="hard_bounce",
        detail="demo: mailbox does not exist",
    )


def _data_for(template_code: str, customer: Customer, n: int, sample: dict) -> dict:
    data = dict(sample)
    if "customer" in data and isinstance(data["customer"], dict):
        data["customer"] = {**data["customer"], "name": customer.name}
    if template_code == "payment-reminder":
        data["policy_number"] = f"MT-{200000 + n:06d}"
        data["amount"] = 250 + (n * 37) % 3000
    if template_code == "one-time-passcode":
        data["code"] = f"{(n * 7919) % 1000000:06d}"
    return data


def demo_seed(
    *, operator: AbstractBaseUser, customers: int = 40, dispatches: int = 300
):
    """Create demo customers and dispatches; return how many dispatches exist."""
    from templates_app.models import Template

    if Customer.objects.filter(external_id__startswith="CUST-").exists():
        return Dispatch.objects.count()
    rng = random.Random(7)  # noqa: S311 (demo data, not security)
    with transaction.atomic():
        people = _customers(customers, rng)
        _preferences(people, operator)
    templates = list(Template.objects.filter(versions__status="approved").distinct())
    if not templates:
        return 0
    made: list[Dispatch] = []
    for n in range(dispatches):
        template = templates[n % len(templates)]
        customer = people[(n * 7) % len(people)]
        scheduled = timezone.now() + timedelta(days=2) if n % 10 == 9 else None
        try:
            communication = communication_trigger(
                template_code=template.code,
                customer=customer,
                data=_data_for(template.code, customer, n, template.sample_data),
                requester_label="demo batch",
                source_system=rng.choice(["core-banking", "policy-admin", "crm"]),
                source_reference=f"REF-{5000 + n}",
                scheduled_for=scheduled,
                scope="card-4401" if n % 3 == 0 else "",
                # Some requests name every channel, so preferences show as
                # suppressed dispatches rather than a quiet fallback.
                channels=template.channels if n % 5 == 1 else "auto",
            )
        except TriggerRefused:
            continue
        made.extend(communication.dispatches.all())
    # Move the demo dispatches through the states production reaches.
    queued = [d for d in made if d.status == Dispatch.Status.QUEUED]
    due = [d for d in queued if d.due_at <= timezone.now()]
    for dispatch in due[::13]:
        services.dispatch_cancel(
            dispatch=dispatch, actor=operator, reason="demo: duplicate request"
        )
    claimed = outbox.dispatches_claim(limit=len(due))
    failing = set(claimed[5::17])
    for dispatch in Dispatch.objects.filter(pk__in=failing).select_related(
        "communication"
    ):
        outbox.dispatch_outcome_record(
            dispatch=dispatch,
            started=timezone.now(),
            duration_ms=120,
            error=PermanentError("demo: 552 mailbox full"),
        )
    outbox.dispatches_send(ids=[pk for pk in claimed if pk not in failing])
    sent = list(Dispatch.objects.filter(status=Dispatch.Status.SENT))
    for n, dispatch in enumerate(sent):
        if n % 4 == 3:
            continue
        bounced = n % 19 == 0 and dispatch.channel == "email"
        services.dispatch_receipt_record(
            dispatch=dispatch,
            event="bounced" if bounced else "delivered",
            hard=bounced,
            detail="demo: 550 5.1.1 user unknown" if bounced else "",
            provider="demo receipts",
        )
    if dispatches:
        _batch(people, operator)
    return Dispatch.objects.count()


def _batch(customers: list[Customer], operator: AbstractBaseUser) -> Batch | None:
    """Run one small SMS batch to the end, with a few rows refused, for the admin."""
    from templates_app.models import Template
    from templates_app.selectors import version_in_force

    template = Template.objects.filter(code="payment-reminder").first()
    if template is None or version_in_force(template) is None:
        return None

    def row(n: int, customer: dict, data_for: Customer) -> dict:
        return {
            "customer": customer,
            "data": _data_for(template.code, data_for, n, template.sample_data),
            "correlation_key": f"MT-{200000 + n:06d}",
            "source_reference": f"DUE-{7000 + n}",
            "line": n + 2,
        }

    rows = [
        row(n, {"external_id": customer.external_id}, customer)
        for n, customer in enumerate(customers[:10])
    ]
    # Refused while running: two customers nobody created, and a new customer
    # without the phone number an SMS batch needs.
    rows.append(row(10, {"external_id": "CUST-99001"}, customers[0]))
    rows.append(row(11, {"external_id": "CUST-99002"}, customers[0]))
    rows.append(row(12, dict(BATCH_NEW_CUSTOMER), customers[0]))
    batch = batches.batch_create(
        template_code=template.code,
        channels=["sms"],
        rows=rows,
        requested_by=operator,
        requester_label=operator.get_username(),
        source_system="admin",
        file_name="payment-reminders-demo.csv",
    )
    return batches.batch_run(batch=batch)
