"""Near-duplicates: planted copies are found with the right kind of difference."""

import pytest

from inventory.analysis import inventory_analyse
from inventory.models import DuplicatePair, InventoryItem, ParagraphCandidate
from tests.inventory.conftest import email

pytestmark = pytest.mark.django_db

GREETING = "Dear {{ name }},"
BODY = [
    "Your motor policy {{ policy }} renews next month. The new premium reflects "
    "your claims history and the value of your vehicle.",
    "To keep your cover without a gap, pay the premium before the renewal date "
    "through the app, at a branch or by bank transfer.",
    "If you have any question about your renewal, our customer care team is "
    "available Sunday to Thursday from 8 am to 8 pm.",
]
BODY_AR = [
    "تتجدد وثيقة المركبات رقم {{ policy }} الشهر القادم، ويعكس القسط الجديد سجل "
    "مطالباتكم وقيمة المركبة.",
    "للحفاظ على التغطية دون انقطاع، يرجى سداد القسط قبل تاريخ التجديد عبر التطبيق "
    "أو في الفرع أو بالتحويل البنكي.",
]


def bilingual(*body, greeting=GREETING):
    return {
        ("email", "en"): email("Your renewal", greeting, *body),
        ("email", "ar"): email("تجديد وثيقتكم", "عزيزي {{ name }}،", *BODY_AR),
    }


@pytest.fixture
def planted(template_make):
    template_make("renewal", bilingual(*BODY))
    template_make("renewal-copy", bilingual(*BODY))
    changed = [
        BODY[0],
        "Pay the premium before the renewal date by card on our website; cash is "
        "no longer accepted in branches from this year on.",
        BODY[2],
    ]
    template_make("renewal-paragraph", bilingual(*changed))
    renamed = [b.replace("{{ policy }}", "{{ policy_number }}") for b in BODY]
    template_make(
        "renewal-variables",
        {
            ("email", "en"): email(
                "Your renewal", "Dear {{ customer_name }},", *renamed
            ),
            ("email", "ar"): email(
                "تجديد وثيقتكم",
                "عزيزي {{ customer_name }}،",
                *[b.replace("{{ policy }}", "{{ policy_number }}") for b in BODY_AR],
            ),
        },
        names=("customer_name", "policy_number"),
    )
    template_make(
        "renewal-english", {("email", "en"): email("Your renewal", GREETING, *BODY)}
    )
    template_make(
        "branch-opening",
        {
            ("email", "en"): email(
                "A new branch near you",
                GREETING,
                "We opened a new branch in the Olaya district, with parking, "
                "longer hours on Thursdays and a desk for home claims.",
                "Bring your policy number {{ policy }} and an identity document "
                "to any counter; no appointment is needed.",
            )
        },
    )
    return inventory_analyse()


def _pair(left: str, right: str) -> DuplicatePair | None:
    for pair in DuplicatePair.objects.select_related("left", "right"):
        if {pair.left.code, pair.right.code} == {left, right}:
            return pair
    return None


@pytest.mark.parametrize(
    ("copy", "difference"),
    [
        ("renewal-copy", "identical"),
        ("renewal-paragraph", "paragraph"),
        ("renewal-variables", "variables"),
        ("renewal-english", "language"),
    ],
)
def test_each_planted_copy_pairs_with_its_original_with_the_kind_of_difference(
    planted, copy, difference
):
    pair = _pair("renewal", copy)

    assert pair is not None, f"renewal and {copy} were not paired"
    assert pair.difference == difference
    assert pair.similarity >= 0.8


def test_the_copies_form_one_cluster_and_unrelated_templates_are_not_paired(planted):
    family = {
        "renewal",
        "renewal-copy",
        "renewal-paragraph",
        "renewal-variables",
        "renewal-english",
    }
    pairs = list(DuplicatePair.objects.select_related("left", "right"))

    assert {p.left.code for p in pairs} | {p.right.code for p in pairs} == family
    assert len({p.cluster for p in pairs}) == 1
    assert {p.cluster_size for p in pairs} == {5}
    assert planted.pairs == len(pairs)


def test_a_paragraph_in_several_templates_is_a_block_candidate(planted):
    candidate = ParagraphCandidate.objects.get(text__startswith="If you have any")

    assert candidate.language == "en"
    assert {o["code"] for o in candidate.occurrences} == {
        "renewal",
        "renewal-copy",
        "renewal-paragraph",
        "renewal-variables",
        "renewal-english",
    }
    assert candidate.template_count == 5


def test_a_new_run_replaces_the_last_one(planted):
    again = inventory_analyse()

    assert InventoryItem.objects.exclude(run=again).count() == 0
    assert DuplicatePair.objects.filter(run=again).count() == planted.pairs


def test_the_comparison_shows_both_sides_and_marks_the_changed_paragraph(
    client, operator, planted
):
    pair = _pair("renewal", "renewal-paragraph")
    client.force_login(operator)

    listing = client.get("/admin/inventory/duplicatepair/", {"difference": "paragraph"})
    assert listing.status_code == 200
    assert pair in listing.context["cl"].result_list

    page = client.get(f"/admin/inventory/duplicatepair/{pair.pk}/compare/")

    assert page.status_code == 200
    email_en = next(s for s in page.context["slots"] if s.slot == "email/en")
    changed = [row for row in email_en.rows if row.change != "equal"]
    assert len(changed) == 1
    assert "cash is no longer accepted" in changed[0].left + changed[0].right
    assert "One paragraph" in page.content.decode()
    shared = page.context["candidates"]
    assert any(c.text.startswith("If you have any question") for c in shared)


def test_the_cluster_link_lists_every_pair_of_the_cluster(client, operator, planted):
    pair = _pair("renewal", "renewal-copy")
    client.force_login(operator)

    page = client.get("/admin/inventory/duplicatepair/", {"cluster": pair.cluster})

    assert page.status_code == 200
    assert len(page.context["cl"].result_list) == DuplicatePair.objects.count()


def test_a_missing_pair_is_a_404_not_an_error(client, operator, planted):
    client.force_login(operator)

    assert (
        client.get("/admin/inventory/duplicatepair/999999/compare/").status_code == 404
    )


def test_near_duplicate_blocks_are_paired_too(author):
    from templates_app import services
    from templates_app.models import ContentBlock

    footer = (
        "<p>Gulf Mutual Insurance is licensed by the Insurance Authority under "
        "licence {n}. Commercial registration 1010000000. Sent to you as a "
        "policyholder of {{{{ product }}}}.</p>"
    )
    for code, number, product in (
        ("footer-2019", "19", "product"),
        ("footer-2021", "21", "product_name"),
    ):
        block = services.block_save(
            block=ContentBlock(code=code, name=code), actor=None
        )
        version = services.block_draft_create(block=block, author=author)
        html = footer.format(n=number).replace("product", product)
        services.block_content_save(
            block_version=version, contents=[("en", html, "")], actor=author
        )

    inventory_analyse()

    pair = DuplicatePair.objects.get(kind="block")
    assert {pair.left.code, pair.right.code} == {"footer-2019", "footer-2021"}
    assert pair.similarity >= 0.9
    assert pair.difference == "paragraph"


def test_a_run_left_running_by_a_dead_worker_is_cleared_by_the_next(db):
    from datetime import timedelta

    from django.utils import timezone

    from inventory.models import InventoryRun

    dead = InventoryRun.objects.create()
    InventoryRun.objects.filter(pk=dead.pk).update(
        started=timezone.now() - timedelta(hours=7)
    )
    busy = InventoryRun.objects.create()

    run = inventory_analyse()

    assert set(InventoryRun.objects.values_list("pk", flat=True)) == {
        busy.pk,
        run.pk,
    }
