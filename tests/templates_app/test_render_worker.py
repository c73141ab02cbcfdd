"""Previews run in a limited worker process: the web process stays responsive.

The limits are the kernel's (CPU time, address space) and a wall-clock kill;
the web process answers with an error naming the limit the preview went over.
"""

import threading
import time

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from templates_app import render_worker

NESTED_LOOPS = (
    "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)


@pytest.fixture
def unbudgeted(settings):
    """Lift the sandbox's own budget, so only the worker's hard limits are left."""
    settings.TEMPLATE_RENDER_SECONDS = 600
    settings.TEMPLATE_REQUEST_SECONDS = 600
    settings.TEMPLATE_MAX_STEPS = 10**15
    settings.TEMPLATE_MAX_OUTPUT_BYTES = 10**12
    settings.TEMPLATE_REQUEST_MAX_BYTES = 10**15
    return settings


def _form_data(version, field: str, source: str) -> dict:
    from tests.templates_app.test_admin import _form_data, _index

    index = _index(version, "email", "en")
    return _form_data(version, **{f"contents-{index}-{field}": source})


def _preview(client, version, source: str) -> dict:
    url = reverse("admin:templates_app_templateversion_preview", args=[version.pk])
    response = client.post(url, _form_data(version, "subject", source))
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def author_client(author):
    client = Client()
    client.force_login(author)
    return client


def test_a_preview_over_its_wall_clock_is_killed(unbudgeted, demo, author_client):
    unbudgeted.TEMPLATE_WORKER_SECONDS = 2
    unbudgeted.TEMPLATE_WORKER_CPU_SECONDS = 60
    version = demo["payment-reminder"].versions.get(number=1)

    result = _preview(author_client, version, NESTED_LOOPS)

    assert "went over its limits" in result["errors"][0]
    assert "TEMPLATE_WORKER_SECONDS" in result["errors"][0]
    assert all(not pane["ok"] for pane in result["panes"])
    assert render_worker.running() == 0


def test_a_preview_over_its_cpu_time_is_stopped_by_the_kernel(
    unbudgeted, demo, author_client
):
    unbudgeted.TEMPLATE_WORKER_SECONDS = 60
    unbudgeted.TEMPLATE_WORKER_CPU_SECONDS = 1
    version = demo["payment-reminder"].versions.get(number=1)

    result = _preview(author_client, version, NESTED_LOOPS)

    assert "TEMPLATE_WORKER_CPU_SECONDS" in result["errors"][0]


def test_a_preview_over_its_memory_is_stopped_by_the_kernel(
    unbudgeted, demo, author_client
):
    unbudgeted.TEMPLATE_WORKER_MEMORY_MB = 64
    version = demo["payment-reminder"].versions.get(number=1)

    result = _preview(author_client, version, '{{ ("x" * 400000000)|length }}')

    assert "TEMPLATE_WORKER_MEMORY_MB" in result["errors"][0]


def test_a_hostile_preview_is_refused_by_the_budget_in_the_worker(demo, author_client):
    version = demo["payment-reminder"].versions.get(number=1)

    result = _preview(author_client, version, '{{ ["x"*400000]*400000 }}')

    (pane,) = [
        p for p in result["panes"] if (p["channel"], p["language"]) == ("email", "en")
    ]
    assert "TEMPLATE_MAX_OUTPUT_BYTES" in pane["error"]


def test_a_ten_thousand_page_letter_preview_is_refused(demo, author_client):
    version = demo["policy-renewal-letter"].versions.get(number=1)
    from tests.templates_app.test_admin import _form_data, _index

    index = _index(version, "letter", "en")
    source = (
        "{% for i in range(10000) %}<p style='break-after:page'>{{ i }}</p>{% endfor %}"
    )
    url = reverse("admin:templates_app_templateversion_preview", args=[version.pk])
    response = author_client.post(
        url, _form_data(version, **{f"contents-{index}-letter_html": source})
    )

    assert response.status_code == 200
    (pane,) = [
        p
        for p in response.json()["panes"]
        if (p["channel"], p["language"]) == ("letter", "en")
    ]
    assert not pane["ok"]
    assert "LETTER_MAX_PAGES" in pane["error"]


def _session(live_server, user) -> requests.Session:
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set(
        django_settings.SESSION_COOKIE_NAME,
        client.cookies[django_settings.SESSION_COOKIE_NAME].value,
    )
    token = "t" * 32
    session.cookies.set(django_settings.CSRF_COOKIE_NAME, token)
    session.headers.update({"X-CSRFToken": token, "Referer": live_server.url + "/"})
    return session


def _wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_the_web_process_answers_while_a_hostile_preview_runs(
    unbudgeted, live_server, demo, author
):
    unbudgeted.TEMPLATE_WORKER_SECONDS = 15
    unbudgeted.TEMPLATE_WORKER_CPU_SECONDS = 60
    version = demo["payment-reminder"].versions.get(number=1)
    preview_url = live_server.url + reverse(
        "admin:templates_app_templateversion_preview", args=[version.pk]
    )
    hostile = _session(live_server, author)
    hostile_answer = {}

    def post_hostile():
        response = hostile.post(
            preview_url, data=_form_data(version, "subject", NESTED_LOOPS), timeout=120
        )
        hostile_answer["body"] = response.json()

    thread = threading.Thread(target=post_hostile)
    thread.start()
    try:
        _wait_until(lambda: render_worker.running() >= 1 or not thread.is_alive())

        health = requests.get(live_server.url + "/healthz/live", timeout=60)
        assert health.status_code == 200
        # A normal preview (the stored content) is rendered by a second worker.
        normal = _session(live_server, author).get(preview_url, timeout=60)
        assert normal.status_code == 200
        assert all(pane["ok"] for pane in normal.json()["panes"])
        # The normal answer came while the hostile preview was still running,
        # or after the hostile preview had already been refused.
        answered_during = thread.is_alive()
    finally:
        thread.join(timeout=120)
    assert answered_during or "went over its limits" in str(hostile_answer)
    assert "went over its limits" in hostile_answer["body"]["errors"][0]


def test_a_test_send_over_its_limits_is_refused_and_sends_nothing(
    unbudgeted, demo, author_client, smtp_sink
):
    unbudgeted.TEMPLATE_WORKER_SECONDS = 2
    version = demo["payment-reminder"].versions.get(number=1)
    url = reverse("admin:templates_app_templateversion_send_test", args=[version.pk])

    response = author_client.post(url, _form_data(version, "subject", NESTED_LOOPS))

    assert response.status_code == 400
    assert "went over its limits" in response.json()["error"]
    assert not smtp_sink.messages
