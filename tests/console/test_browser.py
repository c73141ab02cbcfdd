"""The agent's call in Debian's Chromium: find, open, resend, complain — in both
languages, right to left in Arabic."""

import pytest
from django.conf import settings
from django.core.management import call_command

from audit.models import AuditEvent
from ccm.management.commands.seed_demo import demo_password
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch
from console.models import Feedback
from tests.console.conftest import reminder_data, renewal_data, sent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings, transactional_db):
    """The demo users and templates, and one customer's email and letter."""
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("seed_demo", dispatches=0)
    from customers.services import customer_upsert

    customer, _ = customer_upsert(
        external_id="CUST-77001",
        name="Reem Al-Harbi",
        email="reem.harbi@example.com",
        phone="+966501234567",
        language="en",
        postal_address="12 King Fahd Road\nRiyadh 12271",
    )
    email = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
        source_system="core-banking",
        source_reference="INV-2231",
    ).dispatches.get()
    email = sent(email)
    letter = communication_trigger(
        template_code="policy-renewal-letter",
        customer=customer,
        data=renewal_data(customer),
        channels=["letter"],
        requester_label="policy-admin",
        source_system="policy-admin",
        source_reference="POL-778201",
    ).dispatches.get()
    return {"customer": customer, "email": email, "letter": letter}


def _click_below_the_copy(page, selector: str) -> None:
    """Scroll to a control below the email's frame, then click it.

    Headless Chromium can hit-test a click it scrolled to itself against the
    layout from before the scroll, and deliver it to the sandboxed email frame
    (seen: a link below it did not navigate); scrolling first gives it a
    settled layout.
    """
    page.locator(selector).scroll_into_view_if_needed()
    page.click(selector)


def _shot(page, name: str) -> None:
    page.screenshot(path=settings.VAR_DIR / f"console-{name}.png", full_page=True)


def test_the_demo_agent_finds_opens_resends_and_records_a_complaint(
    live_server, page, demo
):
    email, letter = demo["email"], demo["letter"]

    page.goto(f"{live_server.url}/agent/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", demo_password("agent"))
    page.click("input[type=submit]")
    page.wait_for_selector("#search-form")
    # The demo agent works in Arabic: the console opens right to left.
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    assert page.get_attribute("#top-q", "placeholder") == (
        "المعرّف الخارجي أو الاسم أو البريد الإلكتروني أو الهاتف"
    )
    _shot(page, "search-ar")
    page.select_option("#language-select", "en")
    page.wait_for_function("() => document.documentElement?.dir === 'ltr'")

    # A phone number as the customer reads it out, with spaces.
    page.fill("#id_q", "050 123 4567")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#search-results")
    assert page.locator("#search-results tbody tr").count() == 1
    assert "+9665•••4567" in page.inner_text("#search-results")
    assert page.input_value("#id_q") == page.input_value("#top-q") == "050 123 4567"
    _shot(page, "search-en")
    page.click("#search-results a.customer-link")
    page.wait_for_selector("#timeline-table")
    assert page.inner_text("#customer-name").startswith("Reem Al-Harbi")
    assert page.locator("tr.dispatch-row").count() == 2
    _shot(page, "customer-en")

    # The letter: inline PDF in the page and a download link.
    page.click(f"tr[data-dispatch='{letter.pk}'] a.open-dispatch")
    page.wait_for_selector("#letter-pdf")
    pdf_url = live_server.url + page.get_attribute("#letter-pdf", "src")
    pdf = page.request.get(pdf_url)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    _shot(page, "letter-en")
    assert page.get_attribute("#letter-download", "href").endswith("?download=1")
    assert "Omar" not in page.inner_text("#version-author")  # the demo author
    assert page.inner_text("#version-approvals").strip() != "—"
    page.go_back()

    # The email: its HTML in a sandboxed frame, with the text part below.
    page.click(f"tr[data-dispatch='{email.pk}'] a.open-dispatch")
    page.wait_for_selector("#email-html")
    assert page.get_attribute("#email-html", "sandbox") == ""
    frame = page.frame_locator("#email-html")
    assert "Reem Al-Harbi" in frame.locator("body").inner_text()
    assert "MT-204518" in page.inner_text("#email-text")
    assert "core-banking" in page.inner_text("#source-system")
    page.locator("#copy").screenshot(path=settings.VAR_DIR / "console-email-copy.png")

    # Resend with a reason.
    page.fill("#id_resend-reason", "Customer deleted the email by mistake")
    _click_below_the_copy(page, "#resend")
    # The first kick of the outbox opens the broker connection: allow for it.
    page.wait_for_selector(".messages li.success", timeout=45_000)
    assert "Resent as dispatch #" in page.inner_text(".messages")
    resend = Dispatch.objects.get(resend_of=email)
    assert resend.status == Dispatch.Status.QUEUED

    # A complaint, escalated for operations.
    page.select_option("#id_kind", "complaint")
    page.select_option("#id_severity", "high")
    page.fill("#id_text", "The due date in the email is wrong")
    _click_below_the_copy(page, "#record-feedback")
    page.wait_for_selector("#feedback-list")
    assert "escalation" in page.inner_text(".messages").lower()
    feedback = Feedback.objects.get()
    assert feedback.escalation.severity == "high"

    # The matching audit events appear on the dispatch page.
    actions = page.locator("#audit-events tr.audit-event").evaluate_all(
        "rows => rows.map(r => r.dataset.action)"
    )
    assert "channels.dispatch.resent" in actions
    assert "console.feedback.recorded" in actions
    assert "console.dispatch.viewed" in actions
    assert AuditEvent.objects.filter(
        action="channels.dispatch.resent", actor_label="agent"
    ).exists()
    _shot(page, "dispatch-en")

    # The same pages in Arabic, laid out right to left.
    page.select_option("#language-select", "ar")
    page.wait_for_function("() => document.documentElement?.dir === 'rtl'")
    width = page.viewport_size["width"]
    brand = page.locator(".top a.brand").bounding_box()
    assert brand["x"] > width / 2, "the brand sits on the right in Arabic"
    assert page.inner_text("#copy h2") == "النسخة المطابقة كما أُرسلت"
    _shot(page, "dispatch-ar")
    page.goto(f"{live_server.url}/agent/customers/{demo['customer'].pk}/")
    page.wait_for_selector("#timeline-table")
    assert page.get_attribute("html", "dir") == "rtl"
    first_cell = page.locator("#timeline-table thead th").first.bounding_box()
    assert first_cell["x"] > width / 2, "the timeline starts on the right"
    _shot(page, "customer-ar")


@pytest.fixture
def pixel_server():
    """A local HTTP server that counts the requests it is sent."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    requests = []

    class Pixel(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/gif")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pixel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", requests
    server.shutdown()


def test_opening_an_email_copy_loads_nothing_remote(live_server, page, pixel_server):
    """A tracking pixel in the copy would count the agent's look as an open."""
    from ccm.roles import AGENT
    from customers.services import customer_upsert
    from tests.factories import approved_version_build, dispatch_build, user_build

    base, requests = pixel_server
    user_build(username="aisha", role=AGENT, password="pw-12345!x")
    customer, _ = customer_upsert(
        external_id="CUST-5", name="Reem", email="reem@example.com", language="en"
    )
    dispatch = dispatch_build(
        version=approved_version_build(),
        customer=customer,
        body_html=f'<p>Hello</p><img src="{base}/open.gif" alt="">',
    )

    page.goto(f"{live_server.url}/agent/dispatches/{dispatch.pk}/")
    page.fill("#id_username", "aisha")
    page.fill("#id_password", "pw-12345!x")
    page.click("input[type=submit]")
    page.wait_for_selector("#email-html")
    frame = page.frame_locator("#email-html")
    assert frame.locator("body").inner_text().strip() == "Hello"
    page.wait_for_timeout(1000)

    assert requests == []
