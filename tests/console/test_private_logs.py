"""No customer's address, phone or name reaches a URL or a log line (issue 24, 6).

Real components: gunicorn started from the Procfile's web line (its access
log and the app's lines, JSON), the test's database, Chromium driving the
console, and the trigger API. Every URL the browser asks for, with its query
string and Referer, stands for what a reverse proxy in front would log.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token

from ccm.roles import AGENT, API_CLIENT
from channels_app.demo import demo_seed
from customers.models import Customer
from tests.factories import user_build
from tests.processes import ROOT, child_database_url, wait_until
from tests.smtp import free_port


def _web_start(log: Path, port: int) -> subprocess.Popen:
    [command] = [
        line.removeprefix("web: ")
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web: ")
    ]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "LOG_FORMAT": "json",
        "DATABASE_URL": child_database_url(),
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _personal_data(customers) -> set[str]:
    found = set()
    for customer in customers:
        national = customer.phone.removeprefix("+966")
        found |= {customer.email, customer.name, customer.phone, "0" + national}
        found |= {customer.email.replace("@", "%40")}
        found |= {customer.phone.replace("+", "%2B")}
        found |= {customer.name.replace(" ", "+"), customer.name.replace(" ", "%20")}
    return found


@pytest.mark.django_db(transaction=True)
def test_searching_and_sending_through_the_web_logs_no_customer_data(
    tmp_path, browser, demo_templates
):
    operator = user_build(username="log-operator", is_superuser=True)
    demo_seed(operator=operator, customers=6, dispatches=0)
    customers = list(Customer.objects.filter(external_id__startswith="CUST-"))
    agent = user_build(username="log-agent", role=AGENT)
    system = user_build(username="log-core-banking", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    token = Token.objects.create(user=system)
    session = Client()
    session.force_login(agent)

    port, log = free_port(), tmp_path / "web.log"
    url = f"http://127.0.0.1:{port}"
    web = _web_start(log, port)

    def answered() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz/live", timeout=30) as r:  # noqa: S310
                return r.status == 200
        except OSError:
            return False

    requested: list[str] = []
    context = browser.new_context()
    try:
        wait_until(
            answered,
            timeout=90,
            what="gunicorn to answer",
            detail=lambda: log.read_text(errors="replace")[-3000:],
        )
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": session.cookies["sessionid"].value,
                    "url": url,
                }
            ]
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        # Every URL the browser asks for, Referer included: what a proxy logs.
        page.on(
            "request",
            lambda request: requested.extend(
                [request.url, request.headers.get("referer", "")]
            ),
        )
        page.goto(f"{url}/agent/")
        by_email, by_phone = customers[1], customers[2]
        page.fill("#id_q", by_email.email)
        page.click("#search-form button[type=submit]")
        page.wait_for_selector("#search-results")
        assert page.locator("#search-results tbody tr").count() == 1
        results = page.url
        # The header's box searches from any page; a phone as it is read out.
        national = by_phone.phone.removeprefix("+966")
        page.fill("#top-q", f"0{national[:2]} {national[2:5]} {national[5:]}")
        page.press("#top-q", "Enter")
        page.wait_for_url(lambda u: u != results)
        page.click("#search-results a.customer-link")
        page.wait_for_selector("#customer-name")
        assert page.inner_text("#customer-name").startswith(by_phone.name)
        # Back: the results of the phone search, read again from the session.
        page.go_back()
        page.wait_for_selector("#search-results")
        assert page.input_value("#top-q").endswith(national[5:])
        page.go_back()
        page.wait_for_selector("#search-results")
        assert page.input_value("#id_q") == by_email.email

        # A send to the demo customers through the API.
        for customer in customers:
            request = urllib.request.Request(  # noqa: S310 (loopback)
                f"{url}/api/v1/communications",
                data=json.dumps(
                    {
                        "template": "payment-reminder",
                        "customer": {"external_id": customer.external_id},
                        "data": {
                            **demo_templates["payment-reminder"].sample_data,
                            "customer": {"name": customer.name},
                        },
                        "data_source": {
                            "system": "core-banking",
                            "reference": f"LOG-{customer.pk}",
                        },
                        "channels": "auto",
                    }
                ).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Token {token}",
                    "Idempotency-Key": f"log-{customer.pk}",
                },
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    status, answer = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, answer = error.code, error.read()
            assert status == 202, answer
    finally:
        context.close()
        web.terminate()
        web.wait(timeout=60)

    text = log.read_text()
    records = [json.loads(line) for line in text.splitlines() if line]
    access = [r["message"] for r in records if r["logger"] == "gunicorn.access"]
    assert any('"POST /agent/"' in line for line in access), access
    assert sum('"POST /api/v1/communications"' in line for line in access) == 6
    searched = [u for u in requested if "/agent/?s=" in u]
    assert len(searched) >= 2, requested
    leaked = {
        value
        for value in _personal_data(customers)
        for line in [text, *requested]
        if value in line
    }
    assert not leaked
