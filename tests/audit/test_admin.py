"""The audit browser: readable, filterable, and never writable, not even by root."""

import pytest
from django.urls import reverse

from audit.admin import events_url_for
from audit.models import AuditEvent
from audit.services import event_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(django_user_model, client):
    user = django_user_model.objects.create_superuser(
        username="root", email="root@example.com", password="x" * 12
    )
    client.force_login(user)
    return user


def test_superuser_cannot_add_events(client, root, chain):
    response = client.get(reverse("admin:audit_auditevent_add"))
    assert response.status_code == 403
    response = client.post(
        reverse("admin:audit_auditevent_add"), {"action": "audit.verified"}
    )
    assert response.status_code == 403
    assert AuditEvent.objects.count() == 6


def test_superuser_sees_an_event_but_cannot_change_it(client, root, chain):
    url = reverse("admin:audit_auditevent_change", args=[2])
    page = client.get(url)
    assert page.status_code == 200
    assert b"ready for review" in page.content
    assert b'name="_save"' not in page.content

    response = client.post(url, {"reason": "rewritten"})
    assert response.status_code == 403
    assert AuditEvent.objects.get(sequence=2).reason == "ready for review"


def test_superuser_cannot_delete_events(client, root, chain):
    url = reverse("admin:audit_auditevent_delete", args=[2])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:audit_auditevent_changelist")
    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": ["2"]}
    )
    assert AuditEvent.objects.count() == 6
    assert b"delete_selected" not in client.get(changelist).content
    assert response.status_code in {200, 302}


def test_browser_filters_by_action_actor_kind_date_and_search(client, root, chain):
    changelist = reverse("admin:audit_auditevent_changelist")
    for query, expected in [
        ({"action": "channels.dispatch.sent"}, 1),
        ({"actor_kind__exact": "api_client"}, 1),
        ({"q": "crm-sync"}, 1),
        ({"q": "req-9"}, 1),
        ({"created__year": chain[0].created.year}, 6),
        ({}, 6),
    ]:
        response = client.get(changelist, query)
        assert response.status_code == 200, query
        assert response.context["cl"].result_count == expected, query


def test_events_url_lists_only_the_subjects_events(client, root, chain, author):
    response = client.get(events_url_for(author))
    assert response.status_code == 200
    shown = {event.sequence for event in response.context["cl"].result_list}
    assert shown == {1, 2, 6}


def test_audited_admin_links_an_object_to_its_events(client, root, chain, settings):
    settings.ROOT_URLCONF = "tests.audit.urls"
    author = chain[0].actor
    change = client.get(reverse("audited:auth_user_change", args=[author.pk]))
    assert change.status_code == 200
    link = events_url_for(author).replace("&", "&amp;")
    assert link.encode() in change.content

    listing = client.get(reverse("audited:auth_user_changelist"))
    assert link.encode() in listing.content


def test_audit_link_is_hidden_from_users_who_cannot_view_events(
    client, django_user_model, chain, settings
):
    from django.contrib.auth.models import Permission

    settings.ROOT_URLCONF = "tests.audit.urls"
    staff = django_user_model.objects.create_user(
        username="clerk", password="x" * 12, is_staff=True
    )
    staff.user_permissions.add(Permission.objects.get(codename="change_user"))
    client.force_login(staff)
    event_record(action="auth.permission.granted", subject=staff)

    change = client.get(reverse("audited:auth_user_change", args=[staff.pk]))
    assert change.status_code == 200
    assert b"Audit events" not in change.content
