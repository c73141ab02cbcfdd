"""Every reason consent and the rules write is shown in the reader's language.

The reasons are produced for real: `consent_decide` on in-memory customers and
ledgers, the rules' evaluation on in-memory rules and candidates (its trace
too, the dry run's reasons), and the engine's superseding against the
database. Each must be recognised by the catalogue, read in Arabic without a
word of English left but the values it names, and stay as stored in English.
"""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import translation

from customers import reasons
from customers.consent import consent_decide
from customers.models import Customer, PreferenceEntry
from rules.evaluation import (
    DUE,
    QUEUE,
    Candidate,
    Context,
    Counted,
    Superseder,
    evaluate,
)
from rules.models import Rule, RuleVersion

NOW = datetime(2026, 11, 23, 19, 30, tzinfo=UTC)  # 22:30 in Riyadh
RIYADH = "Asia/Riyadh"
CUSTOMER_ID = 7

# Every value the scenarios put into a reason: codes, addresses, names. In
# Arabic only these may still read in Latin letters.
EMAIL = "reem.harbi@example.com"
PHONE = "+966501234567"
POSTAL = "12 King Fahd Road, Riyadh"
SCOPE = "policy-MT-204518"
CATEGORY = "loan-collections"
MANDATORY_CATEGORY = "otp-login"
EXEMPT_CATEGORY = "card-alerts"
PROMO_CATEGORY = "promo-offers"
TEMPLATE = "loan-reminder"
SUPERSEDER = "payment-received"
AWAITED = "welcome-pack"
KEY = "ACC-1"
QUIET_RULE = "Night quiet hours"
VALUES = [
    EMAIL, PHONE, POSTAL, SCOPE, CATEGORY, MANDATORY_CATEGORY, EXEMPT_CATEGORY,
    PROMO_CATEGORY, TEMPLATE, SUPERSEDER, AWAITED, KEY, QUIET_RULE, RIYADH,
]  # fmt: skip


def consent_reasons() -> list[str]:
    """Return the reason of every way `consent_decide` can decide."""
    customer = Customer(email=EMAIL, phone=PHONE, postal_address=POSTAL)
    nobody = Customer(email="", phone="", postal_address="")

    def entry(channel: str, opted_in: bool, scope: str = "") -> PreferenceEntry:
        return PreferenceEntry(
            channel=channel, category="", scope=scope, opted_in=opted_in
        )

    def decide(who=customer, **fields) -> str:
        fields = {
            "channel": "email",
            "category": CATEGORY,
            "preferences": [],
            "suppressed": set(),
            **fields,
        }
        return consent_decide(customer=who, **fields).reason

    return [
        *(decide(nobody, channel=channel) for channel in ("email", "sms", "letter")),
        decide(channel="sms", suppressed={("sms", PHONE)}),
        decide(suppressed={("email", EMAIL)}),
        decide(preferences=[entry("email", False)]),
        decide(preferences=[entry("any", False)]),
        decide(channel="letter", preferences=[entry("letter", False)]),
        decide(channel="sms", scope=SCOPE, preferences=[entry("sms", False, SCOPE)]),
        decide(preferences=[entry("email", False)], mandatory=True),
        decide(scope=SCOPE, preferences=[entry("any", False, SCOPE)], mandatory=True),
        decide(category=PROMO_CATEGORY, requires_opt_in=True),
        decide(preferences=[entry("email", True)]),
        decide(),
    ]


def candidate(key: int, **fields) -> Candidate:
    return Candidate(
        **{
            "key": key,
            "communication_id": 10 + key,
            "customer_id": CUSTOMER_ID,
            "channel": "sms",
            "template_code": TEMPLATE,
            "category": CATEGORY,
            "kind": "service",
            "mandatory": False,
            "correlation_key": "",
            "due_at": NOW,
            "time_zone": RIYADH,
            **fields,
        }
    )


def rule(pk: int, *, name: str, **fields) -> RuleVersion:
    """Return an approved rule version in memory, as the evaluation reads it."""
    return RuleVersion(pk=pk, rule=Rule(name=name), number=1, **fields)


def run(rules, candidates, *, stage: str = QUEUE, **context) -> list[str]:
    """Evaluate for real and return every reason written or traced."""
    loaded = Context(rules=rules, revision=4)
    for name, value in context.items():
        getattr(loaded, name).update(value)
    verdicts = evaluate(candidates, loaded, stage=stage, now=NOW, trace=True)
    texts = []
    for verdict in verdicts.values():
        texts += [decision["reason"] for decision in verdict.decisions]
        texts += [step["reason"] for step in verdict.trace]
        texts += [verdict.decision] if verdict.decision else []
    return texts


def history(count: int, *, category: str = CATEGORY, kind: str = "service"):
    return [
        Counted(NOW - timedelta(minutes=10 * (n + 1)), "sms", category, kind)
        for n in range(count)
    ]


def rules_reasons() -> list[str]:
    """Return the reason of every way the rules' evaluation can decide."""
    quiet = rule(
        1,
        name=QUIET_RULE,
        kind="quiet_hours",
        channel="sms",
        quiet_start=time(21),
        quiet_end=time(8),
        exempt_mandatory=True,
        exempt_categories=EXEMPT_CATEGORY,
    )
    texts = run(
        [quiet],
        [
            candidate(1),
            candidate(2, channel="email"),
            candidate(3, due_at=NOW - timedelta(hours=10)),
            candidate(4, category=MANDATORY_CATEGORY, kind="mandatory", mandatory=True),
            candidate(5, category=EXEMPT_CATEGORY),
        ],
    )
    suppress = rule(
        2,
        name="Two a day",
        kind="frequency_cap",
        categories=CATEGORY,
        cap_count=2,
        window_hours=24,
        cap_mode="suppress",
    )
    defer = rule(
        3,
        name="Five a week",
        kind="frequency_cap",
        category_kind="service",
        cap_count=5,
        window_hours=168,
        cap_mode="defer",
    )
    texts += run([suppress, defer], [candidate(1)], counted={CUSTOMER_ID: history(2)})
    texts += run(
        [suppress, defer],
        [candidate(1, category=PROMO_CATEGORY)],
        counted={CUSTOMER_ID: history(5, category=PROMO_CATEGORY)},
    )
    texts += run(
        [suppress, defer],
        [candidate(1, kind="mandatory", mandatory=True)],
        counted={CUSTOMER_ID: history(3)},
    )
    # Every form a window takes: Arabic has one for 1, 2, 3–10, 11–99 and 100 up.
    windows = [1, 2, 3, 12, 24, 48, 72, 264, 2400]
    texts += run(
        [
            rule(
                20 + n,
                name=f"Window {hours}",
                kind="frequency_cap",
                cap_count=99,
                window_hours=hours,
                cap_mode="defer",
            )
            for n, hours in enumerate(windows)
        ],
        [candidate(1)],
        counted={CUSTOMER_ID: history(1)},
    )
    for hours in (24, 3):
        once = rule(6, name="Once", kind="dedupe", window_hours=hours)
        texts += run(
            [once],
            [
                candidate(1, correlation_key=KEY),
                candidate(2),
                candidate(3, correlation_key=SCOPE),
                candidate(4, correlation_key=KEY, correction=True),
            ],
            recent={(CUSTOMER_ID, TEMPLATE, KEY, "sms"): [NOW - timedelta(minutes=5)]},
        )
    for key in (KEY, ""):
        texts += run(
            [],
            [candidate(1, correlation_key=KEY)],
            superseders={
                CUSTOMER_ID: [Superseder(40, CUSTOMER_ID, (TEMPLATE,), key, SUPERSEDER)]
            },
        )
    pending = {(CUSTOMER_ID, AWAITED): [(5, "", NOW + timedelta(hours=1))]}
    waiting = candidate(1, waits_for=(AWAITED,))
    texts += run([], [waiting], pending=pending)
    texts += run([], [waiting], stage=DUE, pending=pending)
    texts += run([], [waiting])
    return texts


def latin_left(arabic: str) -> list[str]:
    """Return the Latin words left once the named values are taken out."""
    for value in sorted(VALUES, key=len, reverse=True):
        arabic = arabic.replace(value, "")
    return re.findall(r"[A-Za-z]+", arabic)


# A reason naming a category reads its name from the database.
@pytest.mark.django_db
def test_every_reason_consent_and_the_rules_write_reads_in_arabic():
    texts = consent_reasons() + rules_reasons()
    unread = []
    with translation.override("ar"):
        for text in texts:
            arabic = reasons.reason_display(text)
            if arabic == text or latin_left(arabic):
                unread.append((text, arabic))

    assert unread == []


def test_every_shape_of_the_catalogue_is_one_the_code_writes():
    written = {
        found[0].english
        for text in consent_reasons() + rules_reasons()
        if (found := reasons.reason_shape(text))
    }

    # The console's resend reason is written by an agent's action; its test
    # is in tests/console/test_reasons_display.py.
    console = {reasons.RESENT.english}
    assert written == {shape.english for shape in reasons.CATALOGUE} - console


# A reason naming a category reads its name from the database.
@pytest.mark.django_db
def test_english_readers_see_each_reason_as_stored():
    texts = consent_reasons() + rules_reasons()
    with translation.override("en"):
        assert [reasons.reason_display(text) for text in texts] == texts
        # The message translators work from says exactly what is stored.
        assert [reasons._translate(text) for text in texts] == texts


@pytest.mark.parametrize(
    ("text", "arabic"),
    [
        (
            "customer opted out of email customer-wide",
            "ألغى العميل الاشتراك في التواصل عبر البريد الإلكتروني "
            "لجميع المنتجات والحسابات",
        ),
        (
            "frequency cap reached: 3 of 2 in 2 days",
            "بلغ العميل حد التكرار: 3 من 2 خلال يومين",
        ),
        (
            "22:30 Asia/Riyadh is within quiet hours 21:00–08:00 Asia/Riyadh; "
            "deferred to 2026-11-24 08:00 +03",
            "الساعة 22:30 بتوقيت Asia/Riyadh تقع ضمن ساعات الهدوء 21:00–08:00 "
            "Asia/Riyadh؛ أُجّل الإرسال إلى 2026-11-24 08:00 +03",
        ),
        # An older version wrote the channel's label.
        ("no SMS contact point", "لا توجد لدى العميل وسيلة اتصال عبر الرسائل النصية"),
        # Free text and text of no known shape are shown as stored.
        ("Held by operations pending review", "Held by operations pending review"),
        ("customer opted out of fax customer-wide", None),
        ("", ""),
    ],
)
def test_a_stored_reason_reads_in_arabic_or_as_stored(text, arabic):
    with translation.override("ar"):
        assert reasons.reason_display(text) == (text if arabic is None else arabic)


@pytest.mark.django_db
def test_the_reason_of_a_dispatch_a_later_communication_cancelled_reads_in_arabic(
    demo_templates,
):
    from tests.rules.conftest import customer_build, trigger

    customer = customer_build("C-1")
    keyed = trigger(customer, correlation_key=KEY).dispatches.get()
    unkeyed = trigger(customer, template_code="one-time-passcode").dispatches.get()
    by_key = trigger(customer, correlation_key=KEY, supersedes=["payment-reminder"])
    by_any = trigger(customer, supersedes=["one-time-passcode"])

    keyed.refresh_from_db()
    unkeyed.refresh_from_db()
    assert keyed.status == unkeyed.status == "cancelled"
    with translation.override("ar"):
        assert reasons.reason_display(keyed.decision) == (
            "حلّت محلها مراسلة لاحقة من القالب payment-reminder "
            f"(المراسلة {by_key.pk}) بخصوص {KEY}"
        )
        assert reasons.reason_display(unkeyed.decision) == (
            f"حلّت محلها مراسلة لاحقة من القالب payment-reminder (المراسلة {by_any.pk})"
        )
