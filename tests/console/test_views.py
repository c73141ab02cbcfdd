"""The console as an agent uses it: search, timeline, copy, actions, all audited."""

import html
import json

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from audit.models import AuditEvent
from audit.sealing import event_readable
from ccm.models import UserSettings
from channels_app.models import Dispatch, Escalation
from console.models import Feedback
from customers.models import PreferenceEntry
from tests.console.conftest import pdf_text, pdf_words, reminder_data, title_edges
from tests.factories import dispatch_build

pytestmark = pytest.mark.django_db


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


# Search


def _search(client, typed: str):
    """Search as the form does: post the query, follow to the results."""
    return client.post("/agent/", {"q": typed}, follow=True)


@pytest.mark.parametrize(
    "typed",
    [
        "050 123 4567",
        "0501234567",
        "+966 50 123 4567",
        "00966501234567",
        "966501234567",
        "123 4567",
        "050 123",
        "+966 50",
        "reem",
        "AL-HARBI",
        "reem.harbi@exa",
        "REEM.HARBI@EXAMPLE.COM",
        "harbi",
        "77001",
        "CUST-77001",
    ],
)
def test_search_finds_the_customer_however_the_agent_types_it(
    client, agent, customer, typed
):
    client.force_login(agent)

    response = _search(client, typed)

    assert response.status_code == 200
    assert [row["pk"] for row in response.context["rows"]] == [customer.pk]


def test_search_shows_masked_contact_data_and_says_when_nothing_matches(
    client, agent, customer
):
    client.force_login(agent)

    page = _search(client, "050 123 4567").content.decode()
    assert "reem.harbi@example.com" not in page and "+966501234567" not in page
    assert "re•••@e•••.com" in page and "+9665•••4567" in page

    response = _search(client, "nobody-like-this")
    assert "No customer matches." in response.content.decode()


def test_the_search_keeps_the_query_out_of_every_url(client, agent, customer):
    """Posted, kept in the session, shown again at an opaque `?s=` (finding 6)."""
    client.force_login(agent)

    posted = client.post("/agent/", {"q": "reem.harbi@example.com"})
    assert posted.status_code == 302
    url = posted["Location"]
    assert "reem" not in url and "harbi" not in url and "?s=" in url
    again = client.get(url)  # a reload, or back from the customer's page
    assert [row["pk"] for row in again.context["rows"]] == [customer.pk]
    assert 'value="reem.harbi@example.com"' in again.content.decode()
    # A query in the URL is not searched: it would be in the access log.
    assert client.get("/agent/", {"q": "reem"}).context["result"] is None
    # Another agent's session does not hold the key.
    client.logout()
    client.force_login(agent)
    stale = client.get(url)
    assert stale.context["result"] is None
    assert "no longer kept" in stale.content.decode()


def test_the_search_form_posts_with_a_csrf_token(client, agent):
    client.force_login(agent)

    page = client.get("/agent/").content.decode()

    for form in ('id="search-form"', 'class="top-search"'):
        tag = page[page.index(form) - 60 : page.index("</form>", page.index(form))]
        assert 'method="post"' in tag and "csrfmiddlewaretoken" in tag, form


def test_a_full_name_finds_names_that_start_with_it_and_names_that_contain_it(
    client, agent
):
    from customers.services import customer_upsert

    for n in range(30):
        customer_upsert(external_id=f"CUST-9{n:03}", name="Sarah Carter", language="en")
    inside, _ = customer_upsert(
        external_id="CUST-8000", name="Lina Sarah Carter", language="en"
    )
    client.force_login(agent)

    common = _search(client, "sarah  CARTER")
    rare = _search(client, "Lina Sarah")

    assert len(common.context["rows"]) == 25
    assert "refine the search" in common.content.decode()
    assert [row["pk"] for row in rare.context["rows"]] == [inside.pk]


# The customer page


def test_timeline_lists_every_channel_newest_first_and_filters(
    client, agent, customer, email_dispatch, letter_dispatch
):
    client.force_login(agent)

    response = client.get(f"/agent/customers/{customer.pk}/")
    rows = [row["pk"] for row in response.context["rows"]]
    assert rows == [letter_dispatch.pk, email_dispatch.pk]
    page = response.content.decode()
    assert "Your payment for policy MT-204518 is due" in page

    letters = client.get(f"/agent/customers/{customer.pk}/", {"channel": "letter"})
    assert [row["pk"] for row in letters.context["rows"]] == [letter_dispatch.pk]
    delivered = client.get(f"/agent/customers/{customer.pk}/", {"status": "delivered"})
    assert [row["pk"] for row in delivered.context["rows"]] == [email_dispatch.pk]
    by_template = client.get(
        f"/agent/customers/{customer.pk}/", {"template": "payment-reminder"}
    )
    assert [r["pk"] for r in by_template.context["rows"]] == [email_dispatch.pk]
    future = client.get(f"/agent/customers/{customer.pk}/", {"since": "2999-01-01"})
    assert future.context["rows"] == []


def test_timeline_is_paginated(client, agent, customer, templates):
    from tests.factories import approved_version_build

    version = approved_version_build()
    for _ in range(30):
        dispatch_build(version=version, customer=customer)
    client.force_login(agent)

    first = client.get(f"/agent/customers/{customer.pk}/")
    second = client.get(f"/agent/customers/{customer.pk}/", {"page": 2})

    assert len(first.context["rows"]) == 25
    assert len(second.context["rows"]) == 5
    assert 'rel="next"' in first.content.decode()
    assert 'rel="next"' not in second.content.decode()
    assert 'rel="prev"' in second.content.decode()


def test_every_timeline_page_is_its_slice_of_the_whole_timeline_with_ties(
    customer, templates
):
    """The page's bound (the last row's time) keeps rows that share that time."""
    from datetime import timedelta

    from django.utils import timezone

    from channels_app.models import Communication
    from console import selectors
    from tests.factories import approved_version_build

    version = approved_version_build()
    now = timezone.now()
    for n in range(40):
        first = dispatch_build(version=version, customer=customer)
        if n % 3 == 0:  # a second channel of the same communication
            communication = first.communication_id
            first.pk, first.channel, first.address = None, "sms", customer.phone
            first._state.adding = True
            first.save()
            assert first.communication_id == communication
        # Communications sent in the same second, five at a time.
        Communication.objects.filter(pk=first.communication_id).update(
            created=now - timedelta(seconds=n // 5)
        )
    for filters in (
        selectors.TimelineFilter(),
        selectors.TimelineFilter(channel="sms"),
        selectors.TimelineFilter(template=version.template.code),
    ):
        whole = [row["pk"] for row in selectors.timeline(customer, filters)]
        assert whole, filters
        for start in (0, 4, 13, 26, 51, 60):
            page = selectors.timeline_rows(customer, filters, start, 26)
            assert [row["pk"] for row in page] == whole[start : start + 26], (
                filters,
                start,
            )


# Session, user with their language and permissions (ccm.auth), the customer
# (with whether they have preferences, SMS replies or suppressed addresses:
# none here, so those lists are not read), the template filter's choices, the page, the
# chain head, the audited view. On SQLite the audited view is five
# statements, not two (audit.services: a savepoint, the locked head, the
# insert and the head's update), so the count is pinned per engine.
# One of them reads the customer's audit key: the page view's event seals the
# customer's label under it (audit.sealing), one look-up whatever the page.
TIMELINE_STATEMENTS = {"postgresql": 8, "sqlite": 11}


def test_the_timeline_reads_as_many_statements_for_a_full_page_as_for_one_row(
    client, agent, customer, templates
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import approved_version_build

    version = approved_version_build()
    dispatch_build(version=version, customer=customer, rule_decisions=[{}])
    client.force_login(agent)
    url = f"/agent/customers/{customer.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as one_row:
        client.get(url)
    for n in range(30):
        dispatch_build(
            version=version,
            customer=customer,
            channel=["email", "sms", "letter"][n % 3],
            rule_decisions=[{"outcome": "deferred"}] if n % 2 else [],
        )
    with CaptureQueriesContext(connection) as full_page:
        response = client.get(url)

    assert len(response.context["rows"]) == 25
    assert len(full_page) == len(one_row) == TIMELINE_STATEMENTS[connection.vendor], [
        query["sql"][:80] for query in full_page
    ]


def test_a_customer_with_preferences_replies_and_suppressions_reads_each_list_once(
    client, agent, customer
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from channels_app.models import InboundMessage
    from customers.services import preference_set, suppression_add

    preference_set(
        customer=customer,
        channel="email",
        opted_in=False,
        source="contact_center",
        legal_basis="consent",
        note="no more email",
    )
    suppression_add(channel="email", address=customer.email, reason="hard_bounce")
    InboundMessage.objects.create(
        channel="sms",
        provider_id="m-1",
        sender=customer.phone,
        text="call me",
        kind="message",
    ).customers.add(customer)
    client.force_login(agent)
    url = f"/agent/customers/{customer.pk}/"
    client.get(url)

    with CaptureQueriesContext(connection) as statements:
        page = client.get(url).content.decode()

    assert "no more email" in page.split('id="preference-ledger"')[1]
    assert 'id="suppressions"' in page
    assert "call me" in page.split('id="inbound-messages"')[1]
    assert len(statements) == TIMELINE_STATEMENTS[connection.vendor] + 3


def test_every_view_of_a_customers_communications_is_audited(
    client, agent, customer, email_dispatch
):
    client.force_login(agent)

    client.get(f"/agent/customers/{customer.pk}/")
    client.get(f"/agent/dispatches/{email_dispatch.pk}/")

    viewed = _events("console.customer.viewed")
    assert [(e.actor, e.object_id) for e in viewed] == [(agent, str(customer.pk))]
    opened = _events("console.dispatch.viewed")
    assert [(e.actor, e.object_id) for e in opened] == [(agent, str(email_dispatch.pk))]


def test_contact_data_is_masked_until_unmasked_and_the_unmask_is_audited(
    client, agent, customer, email_dispatch
):
    client.force_login(agent)
    url = f"/agent/customers/{customer.pk}/"

    masked = client.get(url).content.decode()
    assert "reem.harbi@example.com" not in masked
    assert "+966501234567" not in masked
    assert "King Fahd Road" not in masked

    response = client.post(
        f"/agent/customers/{customer.pk}/unmask", {"reason": "identity checked"}
    )
    assert response.status_code == 302
    unmasked = client.get(url).content.decode()
    assert "reem.harbi@example.com" in unmasked and "+966501234567" in unmasked
    [event] = _events("console.contact.unmasked")
    assert event.actor == agent
    assert event_readable(event)["reason"] == "identity checked"
    assert event.object_id == str(customer.pk)


def test_an_agent_without_the_unmask_permission_cannot_unmask(
    client, masked_agent, customer
):
    client.force_login(masked_agent)

    page = client.get(f"/agent/customers/{customer.pk}/").content.decode()
    assert "you may not unmask it" in page
    response = client.post(f"/agent/customers/{customer.pk}/unmask")

    assert response.status_code == 403
    assert _events("console.contact.unmasked") == []
    page = client.get(f"/agent/customers/{customer.pk}/").content.decode()
    assert "reem.harbi@example.com" not in page


def test_preferences_show_their_consent_evidence_and_the_agent_can_change_one(
    client, agent, customer
):
    client.force_login(agent)

    response = client.post(
        f"/agent/customers/{customer.pk}/preferences",
        {
            "channel": "letter",
            "category": "",
            "scope": "",
            "opted_in": "out",
            "legal_basis": "consent",
            "reason": "customer wants paperless",
        },
    )

    assert response.status_code == 302
    entry = PreferenceEntry.objects.get(customer=customer)
    assert entry.source == PreferenceEntry.Source.CONTACT_CENTER
    assert entry.recorded_by == agent and not entry.opted_in
    assert entry.note == "customer wants paperless"
    [event] = _events("channels.preference.set")
    assert event.actor == agent and event.after["source"] == "contact_center"
    page = client.get(f"/agent/customers/{customer.pk}/").content.decode()
    assert "Contact center" in page and "customer wants paperless" in page


def test_a_preference_change_without_a_reason_is_refused(client, agent, customer):
    client.force_login(agent)

    client.post(
        f"/agent/customers/{customer.pk}/preferences",
        {"channel": "sms", "opted_in": "out", "legal_basis": "consent", "reason": ""},
    )

    assert not PreferenceEntry.objects.exists()


# The dispatch page


def test_dispatch_page_shows_the_exact_copy_version_data_and_history(
    client, agent, email_dispatch, templates
):
    client.force_login(agent)

    response = client.get(f"/agent/dispatches/{email_dispatch.pk}/")
    page = response.content.decode()

    assert response.status_code == 200
    copy = f"/agent/dispatches/{email_dispatch.pk}/email.html"
    assert f'<iframe id="email-html" class="copy-frame" sandbox src="{copy}"' in page
    assert "<p>Dear Reem Al-Harbi,</p>" in client.get(copy).content.decode()
    assert email_dispatch.body_text.splitlines()[0] in page
    assert "core-banking" in page and "INV-2231" in page
    assert "demo-author" in page and "demo-reviewer" in page
    assert "channels.dispatch.sent" in page and "channels.dispatch.delivered" in page
    assert email_dispatch.content_sha256 in page


def test_rule_decisions_show_on_the_dispatch_and_as_a_badge_in_the_timeline(
    client, agent, customer, email_dispatch
):
    email_dispatch.rule_decisions = [
        {
            "rule": "quiet-hours",
            "version": 3,
            "outcome": "deferred",
            "reason": "22:00-07:00 in Asia/Riyadh",
            "stage": "trigger",
            "at": "2026-11-23T21:00:00Z",
        }
    ]
    email_dispatch.decision = "deferred to 07:00 by quiet hours"
    email_dispatch.save(update_fields=["rule_decisions", "decision"])
    client.force_login(agent)

    timeline = client.get(f"/agent/customers/{customer.pk}/").content.decode()
    detail = client.get(f"/agent/dispatches/{email_dispatch.pk}/").content.decode()

    assert 'class="badge rule rule-deferred">deferred</span>' in timeline
    assert "quiet-hours" in detail and "22:00-07:00 in Asia/Riyadh" in detail
    assert "deferred to 07:00 by quiet hours" in detail


def test_a_timeline_row_prints_every_stored_value_as_text_not_markup(
    client, agent, customer, email_dispatch
):
    email_dispatch.subject = '<script>alert("subject")</script>'
    email_dispatch.decision = 'held "until" <b>later</b>'
    email_dispatch.rule_decisions = [{"outcome": '"><img src=x onerror=alert(1)>'}]
    email_dispatch.save(update_fields=["subject", "decision", "rule_decisions"])
    client.force_login(agent)

    timeline = client.get(f"/agent/customers/{customer.pk}/").content.decode()

    assert "<script>" not in timeline and "<img" not in timeline
    assert "&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;" in timeline
    assert 'title="held &quot;until&quot; &lt;b&gt;later&lt;/b&gt;"' in timeline


def test_the_letter_pdf_is_served_inline_for_our_frame_and_as_a_download(
    client, agent, letter_dispatch
):
    client.force_login(agent)
    url = f"/agent/dispatches/{letter_dispatch.pk}/letter.pdf"

    inline = client.get(url)
    download = client.get(url, {"download": "1"})

    assert inline["Content-Type"] == "application/pdf"
    assert inline["Content-Disposition"].startswith("inline")
    assert inline["X-Frame-Options"] == "SAMEORIGIN"
    assert b"".join(inline.streaming_content).startswith(b"%PDF")
    assert download["Content-Disposition"].startswith("attachment")
    page = client.get(f"/agent/dispatches/{letter_dispatch.pk}/").content.decode()
    assert f'src="{url}"' in page


# Actions


def test_resend_queues_the_archived_copy_linked_to_the_original(
    client, agent, email_dispatch
):
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/resend",
        {"resend-reason": "customer deleted the email", "resend-once": "form-1"},
    )

    assert response.status_code == 302
    resend = Dispatch.objects.get(resend_of=email_dispatch)
    assert resend.status == Dispatch.Status.QUEUED
    assert resend.communication == email_dispatch.communication
    assert resend.content_sha256 == email_dispatch.content_sha256
    assert resend.body_html == email_dispatch.body_html
    assert resend.subject == email_dispatch.subject
    assert resend.status_changes.get().status == "queued"
    [resent] = _events("channels.dispatch.resent")
    assert resent.object_id == str(email_dispatch.pk) and resent.actor == agent
    assert event_readable(resent)["reason"] == "customer deleted the email"
    assert resent.after["resend"] == resend.pk
    queued = AuditEvent.objects.for_subject(resend).get()
    assert queued.action == "channels.dispatch.queued"


def test_resend_needs_a_reason(client, agent, email_dispatch):
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/resend",
        {"resend-reason": " ", "resend-once": "form-1"},
    )

    assert response.status_code == 400
    assert not Dispatch.objects.filter(resend_of=email_dispatch).exists()


def test_a_letter_resend_keeps_the_archived_pdf(client, agent, letter_dispatch):
    from channels_app import services

    services.dispatch_cancel(dispatch=letter_dispatch, actor=agent, reason="hold")
    client.force_login(agent)

    client.post(
        f"/agent/dispatches/{letter_dispatch.pk}/resend",
        {
            "resend-reason": "customer asked for the letter after all",
            "resend-once": "form-1",
        },
    )

    resend = Dispatch.objects.get(resend_of=letter_dispatch)
    assert resend.letter_pdf.name == letter_dispatch.letter_pdf.name
    assert resend.content_sha256 == letter_dispatch.content_sha256


def test_correct_and_reissue_renders_a_new_communication_linked_to_the_original(
    client, agent, customer, email_dispatch
):
    client.force_login(agent)
    original = email_dispatch.communication
    form = client.get(f"/agent/dispatches/{email_dispatch.pk}/reissue")
    assert "MT-204518" in form.content.decode()

    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/reissue",
        {
            "data": json.dumps(reminder_data(customer, amount=999)),
            "reason": "the amount was wrong",
        },
    )

    assert response.status_code == 302
    reissue = original.reissues.get()
    assert reissue.reason == "the amount was wrong"
    assert reissue.requested_by == agent and reissue.data["amount"] == 999
    new = reissue.dispatches.get()
    assert new.channel == "email" and "999" in new.body_text
    assert new.content_sha256 != email_dispatch.content_sha256
    [event] = _events("console.communication.reissued")
    assert event.object_id == str(original.pk)
    assert event.after["reissue"] == str(reissue.public_id)


def test_a_reissue_with_bad_data_shows_the_problem_and_sends_nothing(
    client, agent, customer, email_dispatch
):
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/reissue",
        {
            "data": json.dumps(reminder_data(customer, currency="EUR")),
            "reason": "currency",
        },
    )

    assert response.status_code == 400
    assert "EUR" in response.content.decode()
    assert not email_dispatch.communication.reissues.exists()


def test_an_arabic_agent_reads_a_refused_reissue_in_arabic_naming_the_value(
    client, agent, customer, email_dispatch
):
    UserSettings.objects.create(user=agent, language="ar")
    client.force_login(agent)
    bad = json.dumps(reminder_data(customer, amount="a lot"))
    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/reissue", {"data": bad, "reason": "x"}
    )

    page = html.unescape(response.content.decode())

    # The refusal in Arabic, isolated, with the path and the value as typed.
    assert (
        "رُفضت البيانات المصحّحة: \u2068البيانات لا تطابق القالب: /amount: "
        'يجب أن تكون القيمة "a lot" رقمًا' in page
    )
    assert not email_dispatch.communication.reissues.exists()


def test_a_complaint_is_recorded_against_the_dispatch_and_escalated(
    client, agent, email_dispatch
):
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/feedback",
        {
            "kind": "complaint",
            "severity": "high",
            "text": "The amount in the email is wrong",
        },
    )

    assert response.status_code == 302
    feedback = Feedback.objects.get()
    assert feedback.dispatch == email_dispatch and feedback.agent == agent
    escalation = Escalation.objects.get(feedback=feedback)
    assert escalation.severity == "high" and escalation.status == "open"
    assert "The amount in the email is wrong" in escalation.reason
    [event] = _events("console.feedback.recorded")
    assert event.object_id == str(email_dispatch.pk)
    assert event.after["escalation"] == escalation.pk
    page = client.get(f"/agent/dispatches/{email_dispatch.pk}/").content.decode()
    assert "The amount in the email is wrong" in page


# Evidence


def test_the_evidence_pack_answers_what_when_where_from_what_and_approved_by_whom(
    client, agent, email_dispatch, capsys
):
    client.force_login(agent)

    response = client.get(f"/agent/dispatches/{email_dispatch.pk}/evidence")

    assert response["Content-Type"].startswith("application/json")
    bundle = json.loads(response.content)
    [entry] = bundle["dispatches"]
    assert entry["copy"]["html"] == email_dispatch.body_html
    assert entry["copy"]["text"] == email_dispatch.body_text
    assert entry["copy"]["content_sha256"] == email_dispatch.content_sha256
    assert entry["address"] == "reem.harbi@example.com"
    assert entry["status"] == "delivered"
    assert [s["status"] for s in entry["status_history"]] == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ]
    assert entry["data"]["source_system"] == "core-banking"
    assert entry["data"]["payload"]["policy_number"] == "MT-204518"
    assert entry["template"]["author"] == "demo-author"
    assert [a["reviewer"] for a in entry["template"]["approvals"]] == ["demo-reviewer"]
    # Every event covering the dispatch, with the chain's own numbers.
    stored = {
        e.sequence: (e.action, e.hash, e.prev_hash)
        for e in AuditEvent.objects.filter(
            object_id=str(email_dispatch.pk), content_type__model="dispatch"
        ).exclude(action="console.evidence.exported")
    }
    in_pack = {
        e["sequence"]: (e["action"], e["hash"], e["prev_hash"])
        for e in bundle["audit_events"]
        if e["subject_type"] == "channels_app.dispatch"
    }
    assert in_pack == stored
    assert {"channels.dispatch.queued", "channels.dispatch.delivered"} <= {
        action for action, _, _ in in_pack.values()
    }
    # audit_verify agrees with the chain the pack quotes.
    call_command("audit_verify")
    assert "OK:" in capsys.readouterr().out
    [exported] = _events("console.evidence.exported")
    assert exported.actor == agent


def test_the_customer_evidence_pack_covers_a_date_range_as_json_and_pdf(
    client, agent, customer, email_dispatch, letter_dispatch
):
    client.force_login(agent)
    url = f"/agent/customers/{customer.pk}/evidence"

    bundle = json.loads(client.get(url, {"since": "2000-01-01"}).content)
    assert {d["id"] for d in bundle["dispatches"]} == {
        email_dispatch.pk,
        letter_dispatch.pk,
    }
    letter = next(d for d in bundle["dispatches"] if d["channel"] == "letter")
    assert letter["copy"]["letter_pdf_base64"]
    empty = json.loads(client.get(url, {"since": "2999-01-01"}).content)
    assert empty["dispatches"] == []

    pdf = client.get(url, {"format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    assert f"#{email_dispatch.pk}" in text
    first_hash = bundle["audit_events"][0]["hash"]
    assert first_hash[:20] in text.replace("\n", "")


def test_an_arabic_evidence_pdf_names_codes_in_arabic_and_keeps_data_left_to_right(
    client, agent, email_dispatch
):
    UserSettings.objects.create(user=agent, language="ar")
    client.force_login(agent)

    pdf = client.get(
        f"/agent/dispatches/{email_dispatch.pk}/evidence", {"format": "pdf"}
    ).content

    text = pdf_text(pdf)
    # The status reads "Delivered" in Arabic, in the heading and the history.
    assert text.count("تم التسليم") >= 2
    assert "— delivered" not in text and "email —" not in text
    width, words = pdf_words(pdf)
    # The page runs right to left: its title ends at the right margin. The
    # data snapshot (JSON) runs left to right: its brace opens at the left.
    _title_left, title_right = title_edges(words)
    assert title_right > width * 0.85
    brace = next(word for word in words if word.text == "{")
    assert brace.left < width * 0.15


# Permissions


@pytest.mark.parametrize("role", ["author", "reviewer"])
def test_authors_and_reviewers_get_403_in_the_console(
    client, request, role, customer, email_dispatch
):
    client.force_login(request.getfixturevalue(role))

    for url in (
        "/agent/",
        f"/agent/customers/{customer.pk}/",
        f"/agent/dispatches/{email_dispatch.pk}/",
        f"/agent/dispatches/{email_dispatch.pk}/evidence",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/agent/dispatches/{email_dispatch.pk}/resend").status_code
    assert not Dispatch.objects.filter(resend_of=email_dispatch).exists()


def test_agents_read_customers_in_the_console_only_not_unmasked_in_the_admin(
    client, agent, customer, email_dispatch
):
    """The admin shows contact data unmasked and records no view: not for agents."""
    client.force_login(agent)

    for url in (
        "/admin/channels_app/customer/",
        f"/admin/channels_app/customer/{customer.pk}/change/",
        "/admin/channels_app/dispatch/",
        f"/admin/channels_app/dispatch/{email_dispatch.pk}/change/",
        "/admin/channels_app/communication/",
        "/admin/channels_app/preferenceentry/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert customer.email not in response.content.decode(), url
    assert customer.email not in client.get("/admin/").content.decode()


def _audit_browser_actions(client) -> set[str]:
    page = client.get("/admin/audit/auditevent/")
    assert page.status_code == 200
    return {event.action for event in page.context["cl"].result_list}


def test_reviewers_read_no_customer_data_in_the_audit_browser(
    client, reviewer, customer, email_dispatch
):
    """The audit browser shows a reviewer the events about templates only.

    A dispatch's events carry the address it went to and a customer's their
    name: they stay hidden until a view permission on them is granted.
    """
    client.force_login(reviewer)

    page = client.get("/admin/audit/auditevent/").content.decode()
    actions = _audit_browser_actions(client)

    assert "templates.version.approved" in actions
    assert not {a for a in actions if a.startswith(("channels.", "console."))}
    for private in (customer.name, customer.external_id, customer.email):
        assert private not in page
    queued = AuditEvent.objects.get(
        action="channels.dispatch.queued", object_id=str(email_dispatch.pk)
    )
    assert event_readable(queued)["after"]["address"] == customer.email
    opened = client.get(f"/admin/audit/auditevent/{queued.pk}/change/")
    assert opened.status_code == 302  # "doesn't exist", as for a missing event
    assert customer.email not in client.get(opened["Location"]).content.decode()

    reviewer.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="channels_app", codename="view_dispatch"
        )
    )
    reviewer = type(reviewer).objects.get(pk=reviewer.pk)  # no cached permissions
    client.force_login(reviewer)
    assert "channels.dispatch.queued" in _audit_browser_actions(client)
    opened = client.get(f"/admin/audit/auditevent/{queued.pk}/change/")
    assert customer.email in opened.content.decode()


def test_operators_read_every_kind_of_event_in_the_audit_browser(
    client, operator, email_dispatch
):
    client.force_login(operator)
    client.get(f"/agent/customers/{email_dispatch.communication.customer_id}/")

    actions = _audit_browser_actions(client)

    assert {
        "templates.version.approved",
        "channels.customer.created",
        "channels.dispatch.queued",
        "console.customer.viewed",
    } <= actions


def test_anonymous_visitors_are_sent_to_sign_in(client, customer):
    response = client.get(f"/agent/customers/{customer.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_operators_may_use_the_console(client, operator, customer):
    client.force_login(operator)

    assert client.get(f"/agent/customers/{customer.pk}/").status_code == 200


def test_agents_cannot_edit_templates_or_approve_versions_in_the_admin(
    client, agent, templates
):
    from tests.factories import approved_version_build

    version = approved_version_build()
    client.force_login(agent)

    for url in (
        f"/admin/templates_app/template/{version.template.pk}/change/",
        f"/admin/templates_app/templateversion/{version.pk}/change/",
        f"/admin/templates_app/templateversion/{version.pk}/review/",
        "/admin/templates_app/templateversion/add/",
    ):
        assert client.get(url).status_code in (403, 302), url
    assert client.get("/admin/templates_app/").status_code in (403, 404)
