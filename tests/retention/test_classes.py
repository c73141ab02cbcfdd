"""A shorter retention period takes effect only when a second person approves it."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.verify import chain_verify
from ccm.roles import OPERATOR, RECORDS_MANAGER
from channels_app.models import Dispatch
from retention import classes
from retention.models import RetentionClass, RetentionClassChange
from retention.runs import retention_run
from templates_app.models import Category
from tests.factories import user_build

pytestmark = pytest.mark.django_db
OTP = "one-time-passcode"
NINETY = {
    "copies_days": 90,
    "pdfs_days": 90,
    "contacts_days": 365,
    "snapshots_days": 90,
}
Status = RetentionClassChange.Status


@pytest.fixture
def dpo(db):
    return user_build(username="dpo", role=RECORDS_MANAGER)


@pytest.fixture
def counsel(db):
    return user_build(username="counsel", role=RECORDS_MANAGER)


def _security():
    return Category.objects.get_or_create(
        code="security", defaults={"name": "Security"}
    )[0]


def _default():
    return RetentionClass.objects.get(category__isnull=True)


def _propose(actor, category=None, name="Passcodes", periods=NINETY, reason="PDPL"):
    return classes.retention_class_set(
        actor=actor,
        category=category if category is not None else _security(),
        name=name,
        periods=periods,
        reason=reason,
    )


def _actions(prefix="retention.class"):
    return list(
        AuditEvent.objects.filter(action__startswith=prefix)
        .order_by("sequence")
        .values_list("action", "actor_label")
    )


def _day(n: int):
    return Dispatch.objects.aggregate(last=Max("created"))["last"] + timedelta(days=n)


def test_a_proposal_erases_nothing_until_someone_else_approves_it(
    channels_sent, dpo, counsel
):
    sent = channels_sent(1, code=OTP)
    change = _propose(dpo)

    assert change.status == Status.PROPOSED
    assert not RetentionClass.objects.filter(category=_security()).exists()
    assert retention_run(now=_day(91)).dispatches == 0
    assert Dispatch.objects.get(pk=sent["email"].pk).body_text

    with pytest.raises(PermissionDenied, match="Segregation of duties"):
        classes.retention_class_change_approve(change=change, actor=dpo)
    assert retention_run(now=_day(91)).dispatches == 0

    classes.retention_class_change_approve(change=change, actor=counsel, comment="ok")

    change.refresh_from_db()
    assert (change.status, change.decided_by) == (Status.APPROVED, counsel)
    created = RetentionClass.objects.get(category=_security())
    assert (created.name, created.copies_days, created.contacts_days) == (
        "Passcodes",
        90,
        365,
    )
    assert retention_run(now=_day(91)).dispatches == 3
    assert Dispatch.objects.get(pk=sent["email"].pk).body_text == ""
    assert _actions() == [
        ("retention.class.change_proposed", "dpo"),
        ("retention.class.change_approved", "counsel"),
    ]
    approved = AuditEvent.objects.get(action="retention.class.change_approved")
    assert approved.before["copies_days"] == 3653
    assert approved.after["copies_days"] == 90
    assert chain_verify().ok


def test_shortening_an_existing_class_waits_for_approval(dpo, counsel):
    default = _default()
    change = classes.retention_class_set(
        actor=dpo,
        category=None,
        name=default.name,
        periods={"copies_days": 730},
        reason="Two years are enough",
    )

    assert _default().copies_days == 3653
    assert change.retention_class == default and change.before["copies_days"] == 3653
    proposed = AuditEvent.objects.get(action="retention.class.change_proposed")
    assert proposed.after["shortened"] == ["copies_days"]
    assert proposed.reason == "Two years are enough"

    classes.retention_class_change_approve(change=change, actor=counsel)
    assert _default().copies_days == 730
    assert _default().pdfs_days == 3653


def test_a_longer_period_applies_at_once_audited(dpo):
    assert (
        classes.retention_class_set(
            actor=dpo,
            category=_security(),
            name="Security (12 years)",
            periods=dict.fromkeys(NINETY, 4383),
        )
        is None
    )
    created = RetentionClass.objects.get(category=_security())
    assert created.copies_days == 4383
    event = AuditEvent.objects.get(action="retention.class.changed")
    assert event.before is None and event.after["copies_days"] == 4383

    classes.retention_class_set(
        actor=dpo,
        category=_security(),
        name="Security (kept)",
        periods={"copies_days": None},
    )
    created.refresh_from_db()
    assert (created.name, created.copies_days) == ("Security (kept)", None)
    changed = AuditEvent.objects.filter(action="retention.class.changed").last()
    assert (changed.before["copies_days"], changed.after["copies_days"]) == (
        4383,
        None,
    )
    assert not RetentionClassChange.objects.exists()


def test_a_new_class_keeping_one_part_shorter_than_the_default_is_a_proposal(dpo):
    change = classes.retention_class_set(
        actor=dpo,
        category=_security(),
        name="Security",
        periods={**dict.fromkeys(NINETY, None), "contacts_days": 365},
    )
    assert change.status == Status.PROPOSED and change.retention_class is None
    assert not RetentionClass.objects.filter(category=_security()).exists()
    event = AuditEvent.objects.get(action="retention.class.change_proposed")
    assert event.after["shortened"] == ["contacts_days"]


def test_a_second_open_proposal_is_refused(dpo, counsel):
    _propose(dpo)
    with pytest.raises(ValidationError, match="already has a proposed change"):
        _propose(counsel, periods={**NINETY, "copies_days": 30})
    assert RetentionClassChange.objects.count() == 1


def test_the_database_refuses_a_second_open_proposal_and_self_approval(dpo):
    change = _propose(dpo)
    with pytest.raises(IntegrityError), transaction.atomic():
        RetentionClassChange.objects.create(
            category=_security(), name="Again", proposer=dpo, before={}
        )
    change.status = Status.APPROVED
    change.decided_by = dpo
    change.decided_at = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        change.save(update_fields=["status", "decided_by", "decided_at"])
    assert RetentionClassChange.objects.get().status == Status.PROPOSED


def test_a_rejection_needs_a_reason_and_changes_nothing(dpo, counsel):
    change = _propose(dpo)
    with pytest.raises(ValidationError, match="needs a reason"):
        classes.retention_class_change_reject(change=change, actor=counsel, comment="")
    classes.retention_class_change_reject(
        change=change, actor=counsel, comment="Statements must be kept"
    )
    assert RetentionClassChange.objects.get().status == Status.REJECTED
    assert not RetentionClass.objects.filter(category=_security()).exists()
    with pytest.raises(PermissionDenied, match="already Rejected"):
        classes.retention_class_change_approve(change=change, actor=counsel)
    assert _actions()[-1] == ("retention.class.change_rejected", "counsel")


def test_only_the_proposer_withdraws_and_an_operator_decides_nothing(dpo, counsel):
    change = _propose(dpo)
    operator = user_build(username="op", role=OPERATOR)
    for verb in ("approve", "reject"):
        assert "may not decide" in classes.change_refusal(change, operator, verb)
    with pytest.raises(PermissionDenied, match="Only the proposer"):
        classes.retention_class_change_withdraw(change=change, actor=counsel)
    with pytest.raises(PermissionDenied, match="withdraws a proposal"):
        classes.retention_class_change_reject(change=change, actor=dpo, comment="x")

    classes.retention_class_change_withdraw(change=change, actor=dpo)

    assert RetentionClassChange.objects.get().status == Status.WITHDRAWN
    assert _actions()[-1] == ("retention.class.change_withdrawn", "dpo")
    # Withdrawn, the class may be proposed again.
    assert _propose(counsel).status == Status.PROPOSED


def test_a_proposal_made_against_other_periods_is_not_approved(dpo, counsel):
    change = _propose(dpo)
    RetentionClass.objects.filter(category__isnull=True).update(copies_days=4000)
    assert "changed since the proposal" in classes.change_refusal(
        change, counsel, "approve"
    )
    with pytest.raises(PermissionDenied, match="changed since the proposal"):
        classes.retention_class_change_approve(change=change, actor=counsel)


# The admin: proposes instead of saving, buttons shown as the guard allows.


def _class_form(name, periods, **extra):
    return {
        "name": name,
        **{key: "" if days is None else str(days) for key, days in periods.items()},
        **extra,
    }


def test_the_admin_proposes_a_shorter_period_and_a_second_person_approves(
    client, dpo, counsel
):
    default = _default()
    page_url = reverse("admin:retention_retentionclass_change", args=[default.pk])
    client.force_login(dpo)
    posted = client.post(
        page_url,
        _class_form(
            default.name,
            {**dict.fromkeys(NINETY, 3653), "copies_days": 730},
            change_reason="Two years",
        ),
        follow=True,
    )
    assert posted.status_code == 200
    assert "was proposed" in posted.content.decode()
    assert _default().copies_days == 3653
    page = client.get(page_url).content.decode()
    assert 'id="retention-change"' in page
    assert 'id="retention-change-withdraw"' in page
    assert 'id="retention-change-approve"' not in page
    assert 'id="retention-change-reject"' not in page
    assert 'id="retention-change-own"' in page

    again = client.post(
        page_url,
        _class_form(default.name, {**dict.fromkeys(NINETY, 3653), "pdfs_days": 30}),
    )
    assert again.status_code == 200
    assert "already has a proposed change" in again.content.decode()

    client.force_login(counsel)
    page = client.get(page_url).content.decode()
    assert 'id="retention-change-approve"' in page
    assert 'id="retention-change-reject"' in page
    assert 'id="retention-change-withdraw"' not in page
    change = RetentionClassChange.objects.get()
    decided = client.post(
        reverse(
            "admin:retention_retentionclasschange_decide", args=[change.pk, "approve"]
        ),
        {"comment": "Agreed"},
        follow=True,
    )
    assert decided.status_code == 200
    assert _default().copies_days == 730
    assert 'id="retention-change"' not in client.get(page_url).content.decode()


def test_the_admin_refuses_self_approval_as_a_message(client, dpo):
    change = _propose(dpo)
    client.force_login(dpo)
    answer = client.post(
        reverse(
            "admin:retention_retentionclasschange_decide", args=[change.pk, "approve"]
        ),
        follow=True,
    )
    assert answer.status_code == 200
    assert "Segregation of duties" in answer.content.decode()
    assert RetentionClassChange.objects.get().status == Status.PROPOSED


def test_a_new_shorter_class_in_the_admin_becomes_a_proposal(client, dpo, counsel):
    client.force_login(dpo)
    added = client.post(
        reverse("admin:retention_retentionclass_add"),
        _class_form("Passcodes", NINETY, category=_security().pk),
    )
    change = RetentionClassChange.objects.get()
    assert added.status_code == 302
    assert added.url == reverse(
        "admin:retention_retentionclasschange_change", args=[change.pk]
    )
    assert not RetentionClass.objects.filter(category=_security()).exists()

    client.force_login(counsel)
    page = client.get(added.url).content.decode()
    assert 'id="retention-change-approve"' in page
    client.post(
        reverse(
            "admin:retention_retentionclasschange_decide", args=[change.pk, "approve"]
        )
    )
    assert RetentionClass.objects.get(category=_security()).copies_days == 90


def test_an_operator_sees_a_proposal_without_buttons(client, dpo):
    change = _propose(dpo)
    client.force_login(user_build(username="op", role=OPERATOR))
    page = client.get(
        reverse("admin:retention_retentionclasschange_change", args=[change.pk])
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="retention-change"' in text
    assert 'id="retention-change-decision"' not in text
    refused = client.post(
        reverse(
            "admin:retention_retentionclasschange_decide", args=[change.pk, "reject"]
        ),
        {"comment": "no"},
        follow=True,
    )
    assert "may not decide" in refused.content.decode()
    assert RetentionClassChange.objects.get().status == Status.PROPOSED


def test_the_proposal_reads_in_arabic(client, dpo, counsel):
    change = _propose(dpo)
    client.force_login(counsel)
    page = client.get(
        reverse("admin:retention_retentionclasschange_change", args=[change.pk]),
        HTTP_ACCEPT_LANGUAGE="ar",
    ).content.decode()
    assert 'dir="rtl"' in page
    assert "Approve the change" not in page
    assert 'id="retention-change-approve"' in page


def test_a_new_class_for_a_category_with_an_open_proposal_is_a_form_error(
    client, dpo, counsel
):
    _propose(dpo)
    client.force_login(counsel)
    page = client.post(
        reverse("admin:retention_retentionclass_add"),
        _class_form("Passcodes", dict.fromkeys(NINETY, 4000), category=_security().pk),
    )
    assert page.status_code == 200
    assert "already has a proposed change" in page.content.decode()
    assert not RetentionClass.objects.filter(category=_security()).exists()


def test_the_demo_leaves_a_shorter_class_proposed_for_a_second_person(
    demo_templates, dpo, counsel
):
    from retention.demo import retention_demo_seed

    change = retention_demo_seed(proposer=dpo)

    assert change.status == Status.PROPOSED and change.category.code == "security"
    assert retention_demo_seed(proposer=dpo) is None
    assert RetentionClassChange.objects.count() == 1
    assert not RetentionClass.objects.filter(category=change.category).exists()
    assert classes.change_refusal(change, counsel, "approve") is None


def test_the_retention_page_lists_the_open_proposals(client, dpo):
    _propose(dpo)
    client.force_login(user_build(username="op", role=OPERATOR))
    page = client.get(reverse("operations:retention")).content.decode()
    assert 'data-class-change="security"' in page
    assert "90 days" in page and "Passcodes" in page
    arabic = client.get(
        reverse("operations:retention"), HTTP_ACCEPT_LANGUAGE="ar"
    ).content.decode()
    assert "No change proposed." not in arabic
    assert "←" in arabic


def test_while_a_proposal_is_open_the_class_does_not_change_otherwise(dpo, counsel):
    default = _default()
    classes.retention_class_set(
        actor=dpo, category=None, name=default.name, periods={"copies_days": 730}
    )
    for name, periods in (("Renamed", {}), (default.name, {"pdfs_days": 5000})):
        with pytest.raises(ValidationError, match="already has a proposed change"):
            classes.retention_class_set(
                actor=counsel, category=None, name=name, periods=periods
            )
    assert _default().name == default.name and _default().pdfs_days == 3653
