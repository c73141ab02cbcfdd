"""The review workflow: transitions, refusals, quorum, effective dating, blocks."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from ccm import grants
from templates_app import selectors, services
from templates_app.models import (
    Approval,
    ContentBlockVersion,
    ContentFrozen,
    Status,
    StatusWriteRefused,
    TemplateVersion,
    VersionContent,
)
from templates_app.validation import ContentDraft
from tests.templates_app.conftest import grant, make_block, make_template, user_with

pytestmark = pytest.mark.django_db

EMAIL_EN = ("email", "en", {"subject": "Hi {{ name }}", "html": "<p>Hi</p>"})


@pytest.fixture
def version(category, author):
    return make_template(category, author, contents=[EMAIL_EN], channels=["email"])


@pytest.fixture
def reviewer(reviewer, category):
    return grant(category, "review_category", reviewer)


@pytest.fixture
def second_reviewer(second_reviewer, category):
    return grant(category, "review_category", second_reviewer)


def _events(subject) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_id=str(subject.pk),
            content_type=ContentType.objects.get_for_model(subject),
        )
        .order_by("sequence")
        .values_list("action", flat=True)
    )


def _redraft(version, author, subject):
    draft = services.version_draft_create(template=version.template, author=author)
    services.version_content_save(
        version=draft,
        contents=[
            ContentDraft("email", "en", {"subject": subject, "html": "<p>x</p>"})
        ],
        actor=author,
    )
    return draft


def _approved(version, author, reviewer, **schedule):
    if schedule:
        services.version_schedule_set(
            version=version,
            actor=author,
            effective_from=schedule.get("effective_from"),
            effective_until=schedule.get("effective_until"),
        )
    services.version_submit(version=version, actor=author)
    return services.version_approve(version=version, actor=reviewer, comment="ok")


def _refused(rule: str, call, **kwargs):
    with pytest.raises(services.WorkflowRefused) as refused:
        call(**kwargs)
    assert refused.value.rule == rule, str(refused.value)
    return str(refused.value)


# --- the happy path and the audit vocabulary ----------------------------------


def test_each_service_writes_exactly_its_audit_events(version, author, reviewer):
    before = AuditEvent.objects.count()
    services.version_submit(version=version, actor=author, comment="ready")
    services.version_withdraw(version=version, actor=author, comment="typo")
    services.version_submit(version=version, actor=author)
    services.version_approve(version=version, actor=reviewer, comment="fine")
    services.version_retire(version=version, actor=reviewer, comment="old")
    draft = services.version_draft_create(template=version.template, author=author)
    services.version_submit(version=draft, actor=author)
    services.version_reject(version=draft, actor=reviewer, comment="wrong tone")
    assert _events(version) == [
        "templates.version.created",
        "templates.version.submitted",
        "templates.version.withdrawn",
        "templates.version.submitted",
        "templates.version.approved",
        "templates.version.retired",
    ]
    assert _events(draft) == [
        "templates.version.created",
        "templates.version.submitted",
        "templates.version.rejected",
    ]
    assert AuditEvent.objects.count() - before == 8
    approved = AuditEvent.objects.get(
        action="templates.version.approved", object_id=str(version.pk)
    )
    assert approved.actor_label == str(reviewer) or reviewer.username in (
        approved.actor_label
    )
    assert approved.before == {"status": "in_review"}
    assert approved.after["status"] == "approved"
    assert approved.reason == "fine"
    rejected = AuditEvent.objects.get(action="templates.version.rejected")
    assert rejected.reason == "wrong tone"
    draft.refresh_from_db()
    assert draft.rejection_reason == "wrong tone"


def test_transitions_keep_row_history_with_reasons(version, author, reviewer):
    services.version_submit(version=version, actor=author)
    services.version_approve(version=version, actor=reviewer, comment="fine")
    reasons = list(
        version.history.order_by("history_date").values_list(
            "history_change_reason", flat=True
        )
    )
    assert "draft → in_review" in reasons
    assert "in_review → approved: fine" in reasons
    last = version.history.order_by("-history_date").first()
    assert last.history_user_id == reviewer.pk


def test_rejected_version_starts_a_new_draft_copying_its_content(
    version, author, reviewer
):
    services.version_submit(version=version, actor=author)
    services.version_reject(version=version, actor=reviewer, comment="No")
    draft = services.version_draft_create(
        template=version.template, author=author, source=version
    )
    assert draft.status == Status.DRAFT
    assert draft.based_on == version
    assert draft.contents.get().subject == "Hi {{ name }}"


# --- refusals ---------------------------------------------------------------


def test_skipping_review_is_refused_and_changes_nothing(version, reviewer):
    message = _refused(
        "state", services.version_approve, version=version, actor=reviewer
    )
    assert "Draft" in message and "In review" in message
    version.refresh_from_db()
    assert version.status == Status.DRAFT
    assert not Approval.objects.exists()
    assert "templates.version.approved" not in _events(version)


def test_status_written_outside_the_services_is_refused(version):
    version.status = Status.APPROVED
    with pytest.raises(StatusWriteRefused):
        version.save()
    with pytest.raises(StatusWriteRefused):
        TemplateVersion.objects.filter(pk=version.pk).update(status=Status.APPROVED)
    with pytest.raises(StatusWriteRefused):
        TemplateVersion.objects.create(
            template=version.template,
            number=9,
            author=version.author,
            status=Status.APPROVED,
        )
    version.refresh_from_db()
    assert version.status == Status.DRAFT


def test_self_approval_as_author_is_refused(version, author, category):
    author = grant(category, "review_category", author)
    services.version_submit(version=version, actor=author)
    message = _refused(
        "segregation", services.version_approve, version=version, actor=author
    )
    assert "Segregation of duties" in message and "wrote" in message
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW
    assert not Approval.objects.exists()


def test_approval_by_someone_who_edited_the_version_is_refused(
    version, author, reviewer, category
):
    editor = grant(category, "author_category", reviewer)
    services.version_content_save(
        version=version,
        contents=[ContentDraft("email", "en", {"subject": "Yo", "html": "<p>x</p>"})],
        actor=editor,
    )
    services.version_submit(version=version, actor=author)
    message = _refused(
        "segregation", services.version_approve, version=version, actor=editor
    )
    assert "edited" in message
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW


def test_a_version_redrafted_unchanged_by_another_author_is_refused_to_its_writer(
    version, author, reviewer, category
):
    """Segregation of duties follows the words, not the draft that carries them."""
    writer = grant(category, "review_category", author)
    other = grant(category, "author_category", user_with("other", []))
    services.version_submit(version=version, actor=writer)
    services.version_reject(version=version, actor=reviewer, comment="Not yet")
    redraft = services.version_draft_create(
        template=version.template, author=other, source=version
    )
    services.version_submit(version=redraft, actor=other)

    message = _refused(
        "segregation", services.version_approve, version=redraft, actor=writer
    )

    assert "version 1" in message.lower() or "v1" in message.lower()
    redraft.refresh_from_db()
    assert redraft.status == Status.IN_REVIEW
    assert services.version_approve(version=redraft, actor=reviewer).status == (
        Status.APPROVED
    )


def test_whoever_edited_any_earlier_version_of_the_lineage_may_not_approve(
    version, author, reviewer, second_reviewer, category
):
    editor = grant(category, "author_category", second_reviewer)
    services.version_content_save(
        version=version,
        contents=[ContentDraft("email", "en", {"subject": "Yo", "html": "<p>x</p>"})],
        actor=editor,
    )
    _approved(version, author, reviewer)
    second = _redraft(version, author, "Second")
    _approved(second, author, reviewer)
    third_author = grant(category, "author_category", user_with("third", []))
    third = _redraft(second, third_author, "Third")
    services.version_submit(version=third, actor=third.author)

    _refused("segregation", services.version_approve, version=third, actor=editor)
    assert services.version_approve(version=third, actor=reviewer).status == (
        Status.APPROVED
    )


def test_approval_without_the_category_permission_is_refused(version, author):
    outsider = user_with("outsider", ["view_templateversion"])
    services.version_submit(version=version, actor=author)
    message = _refused(
        "permission", services.version_approve, version=version, actor=outsider
    )
    assert "review permission" in message
    assert not Approval.objects.exists()


def test_approval_of_content_whose_hash_no_longer_matches_is_refused(
    version, author, reviewer
):
    services.version_submit(version=version, actor=author)
    # Tampering behind the models' back, as a direct database write would.
    VersionContent.objects.filter(version=version).update(subject="Tampered")
    message = _refused(
        "hash", services.version_approve, version=version, actor=reviewer
    )
    assert "hash" in message and "does not match" in message
    assert not services.version_hash_ok(version)
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW
    assert not Approval.objects.exists()


def test_editing_a_frozen_version_is_refused(version, author):
    services.version_submit(version=version, actor=author)
    with pytest.raises(services.VersionNotEditable):
        services.version_content_save(
            version=version,
            contents=[
                ContentDraft("email", "en", {"subject": "X", "html": "<p>x</p>"})
            ],
            actor=author,
        )
    content = version.contents.get()
    content.subject = "Changed"
    with pytest.raises(ContentFrozen):
        content.save()
    with pytest.raises(ContentFrozen):
        content.delete()
    with pytest.raises(ContentFrozen):
        version.delete()
    assert version.contents.get().subject == "Hi {{ name }}"
    version.refresh_from_db()
    assert services.version_hash_ok(version)


def test_rejection_needs_a_reason(version, author, reviewer):
    services.version_submit(version=version, actor=author)
    _refused(
        "reason",
        services.version_reject,
        version=version,
        actor=reviewer,
        comment="  ",
    )
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW


def test_authoring_outside_granted_categories_is_refused(version, reviewer):
    with pytest.raises(services.AuthoringForbidden):
        services.version_submit(version=version, actor=reviewer)
    with pytest.raises(services.AuthoringForbidden):
        services.version_draft_create(template=version.template, author=reviewer)


def test_a_template_has_one_open_version_at_a_time(version, author):
    services.version_submit(version=version, actor=author)
    with pytest.raises(services.AuthoringError):
        services.version_draft_create(template=version.template, author=author)


# --- N approvals --------------------------------------------------------------


def test_category_needing_two_approvals_waits_for_two_distinct_reviewers(
    version, author, reviewer, second_reviewer, category
):
    category.required_approvals = 2
    category.save()
    services.version_submit(version=version, actor=author)
    services.version_approve(version=version, actor=reviewer, comment="one")
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW
    assert _events(version)[-1] == "templates.version.approval_recorded"
    _refused(
        "distinct-approvals",
        services.version_approve,
        version=version,
        actor=reviewer,
    )
    services.version_approve(version=version, actor=second_reviewer, comment="two")
    version.refresh_from_db()
    assert version.status == Status.APPROVED
    assert [a.reviewer for a in selectors.approvals_current(version)] == [
        reviewer,
        second_reviewer,
    ]


def test_withdrawing_voids_the_approvals_given_so_far(
    version, author, reviewer, second_reviewer, category
):
    category.required_approvals = 2
    category.save()
    services.version_submit(version=version, actor=author)
    services.version_approve(version=version, actor=reviewer)
    services.version_withdraw(version=version, actor=author)
    version = services.version_submit(version=version, actor=author)
    assert list(selectors.approvals_current(version)) == []
    services.version_approve(version=version, actor=second_reviewer)
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW


# --- effective dating -------------------------------------------------------


def test_version_in_force_at_various_times(version, author, reviewer):
    first = _approved(version, author, reviewer)
    t0 = first.effective_from
    assert (
        selectors.version_in_force(version.template, t0 - timedelta(seconds=1)) is None
    )
    assert selectors.version_in_force(version.template, t0) == first

    start = timezone.now() + timedelta(days=10)
    second = _approved(
        _redraft(first, author, "Second"), author, reviewer, effective_from=start
    )
    first.refresh_from_db()
    assert first.effective_until == start == second.effective_from
    assert first.status == Status.APPROVED
    template = version.template
    assert selectors.version_in_force(template) == first
    assert selectors.version_in_force(template, start - timedelta(seconds=1)) == first
    assert selectors.version_in_force(template, start) == second
    assert selectors.version_in_force(template, start + timedelta(days=400)) == second
    in_force = selectors.version_in_force(template, start)
    assert [a.reviewer for a in selectors.approvals_current(in_force)] == [reviewer]

    assert services.versions_supersede_due(timezone.now()) == 0
    assert services.versions_supersede_due(start) == 1
    assert services.versions_supersede_due(start) == 0
    first.refresh_from_db()
    assert first.status == Status.SUPERSEDED
    assert _events(first)[-1] == "templates.version.superseded"
    # History is still answerable after the status changed.
    assert selectors.version_in_force(template, t0) == first


def test_approval_effective_now_supersedes_the_previous_version_at_once(
    version, author, reviewer
):
    first = _approved(version, author, reviewer)
    second = _approved(_redraft(first, author, "Second"), author, reviewer)
    first.refresh_from_db()
    assert first.status == Status.SUPERSEDED
    assert first.effective_until == second.effective_from
    assert selectors.version_in_force(version.template) == second


def test_expiry_without_a_successor_retires_the_version(version, author, reviewer):
    until = timezone.now() + timedelta(days=1)
    first = _approved(version, author, reviewer, effective_until=until)
    assert services.versions_supersede_due(until) == 1
    first.refresh_from_db()
    assert first.status == Status.RETIRED
    assert selectors.version_in_force(version.template, until) is None


def test_approving_a_version_starting_before_a_scheduled_one_is_refused(
    version, author, reviewer
):
    later = timezone.now() + timedelta(days=20)
    _approved(version, author, reviewer, effective_from=later)
    draft = _redraft(version, author, "Earlier")
    services.version_submit(version=draft, actor=author)
    message = _refused(
        "in-force", services.version_approve, version=draft, actor=reviewer
    )
    assert "At most one version may be in force" in message
    draft.refresh_from_db()
    assert draft.status == Status.IN_REVIEW
    assert not draft.approvals.exists()


def test_two_versions_in_force_are_refused_by_the_database(version, author, reviewer):
    first = _approved(version, author, reviewer)
    second = _approved(
        _redraft(first, author, "Second"),
        author,
        reviewer,
        effective_from=timezone.now() + timedelta(days=5),
    )
    table = TemplateVersion._meta.db_table
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # Reopening the first version would put two versions in force.
        cursor.execute(
            f"UPDATE {table} SET effective_until = NULL WHERE id = %s",  # noqa: S608
            [first.pk],
        )
    assert second.status == Status.APPROVED


@pytest.mark.postgres
def test_overlapping_effective_ranges_are_refused_by_postgresql(
    version, author, reviewer
):
    first = _approved(version, author, reviewer)
    second = _approved(
        _redraft(first, author, "Second"),
        author,
        reviewer,
        effective_from=timezone.now() + timedelta(days=5),
        effective_until=timezone.now() + timedelta(days=9),
    )
    table = TemplateVersion._meta.db_table
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # Both ranges closed, so only the exclusion constraint can object.
        cursor.execute(
            f"UPDATE {table} SET effective_until = %s WHERE id = %s",  # noqa: S608
            [second.effective_from + timedelta(days=1), first.pk],
        )
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"INSERT INTO {table} (template_id, number, status, author_id,"  # noqa: S608
            " created, updated, content_hash, effective_from, effective_until,"
            " rejection_reason, category_id, channels, default_language,"
            " data_schema, hash_scheme) VALUES (%s, 99, 'superseded', %s, now(),"
            " now(), '', %s, %s, '', %s, '[]', 'en', '{}', 2)",
            [
                version.template_id,
                author.pk,
                second.effective_from + timedelta(days=1),
                second.effective_from + timedelta(days=2),
                version.category_id,
            ],
        )


# --- blocks ------------------------------------------------------------------


@pytest.fixture
def footer(author, reviewer):
    block_version = make_block("footer", author, [("en", "<p>F1</p>", "F1")])
    services.block_submit(block_version=block_version, actor=author)
    return services.block_approve(block_version=block_version, actor=reviewer)


def test_block_governance(category, author, reviewer, footer):
    version = make_template(
        category,
        author,
        code="with-footer",
        channels=["email"],
        contents=[
            ("email", "en", {"subject": "S", "html": '<p>x</p>{{ block("footer") }}'})
        ],
    )
    assert version.pins.get().block_version == footer
    approved = _approved(version, author, reviewer)
    assert _events(footer) == [
        "templates.block.created",
        "templates.block.submitted",
        "templates.block.approved",
    ]

    new_footer = services.block_draft_create(block=footer.block, author=author)
    services.block_content_save(
        block_version=new_footer, contents=[("en", "<p>F2</p>", "F2")], actor=author
    )
    services.block_submit(block_version=new_footer, actor=author)
    author.user_permissions.add(Permission.objects.get(codename="review_contentblock"))
    author = User.objects.get(pk=author.pk)
    _refused(
        "segregation",
        services.block_approve,
        block_version=new_footer,
        actor=author,
    )
    services.block_approve(block_version=new_footer, actor=reviewer, comment="ok")
    footer.refresh_from_db()
    assert footer.status == Status.SUPERSEDED
    # The approved template still pins, and renders with, the old block.
    assert approved.pins.get().block_version == footer
    sources = selectors.block_sources_for_version(approved, "en")
    assert sources["footer"].html == "<p>F1</p>"
    assert services.version_hash_ok(approved)
    assert list(selectors.block_dependents(footer.block)) == [approved]

    result = services.block_dependents_redraft(block_version=new_footer, actor=author)
    (draft,) = result.created
    assert draft.template == approved.template
    assert draft.pins.get().block_version == new_footer
    assert draft.based_on == approved
    again = services.block_dependents_redraft(block_version=new_footer, actor=author)
    assert again.created == [] and "already" in again.skipped[0]


def test_template_cannot_be_approved_with_an_unapproved_block(
    category, author, reviewer
):
    make_block("sig", author, [("en", "<p>S</p>", "S")])
    version = make_template(
        category,
        author,
        code="signed",
        channels=["email"],
        contents=[("email", "en", {"subject": "S", "html": '{{ block("sig") }}'})],
    )
    message = _refused("blocks", services.version_submit, version=version, actor=author)
    assert "sig v1" in message
    block_version = ContentBlockVersion.objects.get(block__code="sig")
    services.block_submit(block_version=block_version, actor=author)
    services.version_submit(version=version, actor=author)
    _refused("blocks", services.version_approve, version=version, actor=reviewer)
    services.block_approve(block_version=block_version, actor=reviewer)
    services.version_approve(version=version, actor=reviewer)


# --- notifications ------------------------------------------------------------


def test_reviewers_and_author_are_emailed_through_smtp(
    version,
    author,
    reviewer,
    second_reviewer,
    smtp_sink,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        services.version_submit(version=version, actor=author)
    assert smtp_sink.arrived.wait(10)
    recipients = sorted(str(m["To"]) for m in smtp_sink.messages)
    assert recipients == ["reviewer2@example.com", "reviewer@example.com"]
    assert all("Review requested" in str(m["Subject"]) for m in smtp_sink.messages)
    assert "/review/" in smtp_sink.messages[0].get_content()
    smtp_sink.messages.clear()
    smtp_sink.arrived.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.version_approve(version=version, actor=reviewer, comment="Good")
    assert smtp_sink.arrived.wait(10)
    (decided,) = smtp_sink.messages
    assert str(decided["To"]) == "author@example.com"
    assert "approved" in str(decided["Subject"])
    assert "Good" in decided.get_content()


def test_no_email_leaves_before_commit(version, author, reviewer, smtp_sink):
    with pytest.raises(services.WorkflowRefused), transaction.atomic():
        services.version_submit(version=version, actor=author)
        services.version_approve(version=version, actor=author)
    assert smtp_sink.messages == []


# --- permissions --------------------------------------------------------------


def test_granting_and_revoking_category_permissions_is_audited(category, author):
    operator = user_with("operator", ["manage_category_permissions"])
    requester = user_with("requester", [])
    requester.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_rolegrant", "approve_rolegrant"])
    )
    operator.user_permissions.add(
        *Permission.objects.filter(codename="approve_rolegrant")
    )
    operator = type(operator).objects.get(pk=operator.pk)
    requested = grants.grant_request(
        actor=type(requester).objects.get(pk=requester.pk),
        user=author,
        category=category,
        permission="review_category",
        reason="Second reviewer",
    )
    grants.grant_approve(grant=requested, actor=operator)
    services.category_permission_revoke(
        category=category, permission="review_category", user=author, actor=operator
    )
    events = AuditEvent.objects.filter(object_id=str(category.pk)).order_by("sequence")
    actions = [(e.action, e.actor_label) for e in events]
    assert actions[-2:] == [
        ("auth.permission.granted", actions[-1][1]),
        ("auth.permission.revoked", actions[-1][1]),
    ]
    assert "operator" in actions[-1][1]
    with pytest.raises(services.AuthoringForbidden):
        services.category_permission_grant(
            category=category, permission="review_category", user=author, actor=author
        )
