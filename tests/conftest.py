"""Shared fixtures, the service guard and the browser for the whole suite.

Tests marked `postgres` or `redis` need the real services. Outside CI they are
skipped when DATABASE_URL / CELERY_BROKER_URL do not point at them; under
CI=true a missing or unreachable service stops the run with an error naming it.
"""

import contextlib
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests import shared
from tests.lifecycle_guard import dispatch_status_owner  # noqa: F401 (autouse)

# Playwright's sync API runs an event loop in the test thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Under pytest-xdist each worker ("gw0", "gw1", ...) has its own test database
# (pytest-django suffixes the name), Redis database and var directory.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _worker_isolate(worker: str) -> None:
    """Give this xdist worker its own Redis database and var directory.

    Celery workers the tests start take the broker and CCM_VAR_DIR from the
    settings, so two xdist workers never consume each other's tasks.
    """
    from django.conf import settings

    index = int(worker.removeprefix("gw"))
    broker = urlparse(settings.CELERY_BROKER_URL)
    if broker.scheme == "redis":
        base = int(broker.path.strip("/") or 0)
        if base + index > 15:
            raise pytest.UsageError(
                f"xdist worker {worker} needs Redis database {base + index}: "
                "start CELERY_BROKER_URL at a lower database number"
            )
        url = broker._replace(path=f"/{base + index}").geturl()
        settings.CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"] = url
    var_dir = settings.VAR_DIR / worker
    var_dir.mkdir(parents=True, exist_ok=True)
    if broker.scheme == "redis+socket":
        settings.EMBEDDED_BROKER_SOCKET = var_dir / "redis.sock"
        settings.CELERY_BROKER_URL = f"redis+socket://{var_dir / 'redis.sock'}"
    os.environ["CCM_VAR_DIR"] = str(var_dir)
    settings.VAR_DIR = var_dir
    settings.EMAIL_FILE_PATH = str(var_dir / "mail")
    settings.CELERY_BEAT_SCHEDULE_FILENAME = str(var_dir / "celerybeat-schedule")
    if "SMS_FILE_DIR" not in os.environ:
        settings.SMS_FILE_DIR = var_dir / "sms"
    if "MEDIA_ROOT" not in os.environ:
        settings.MEDIA_ROOT = var_dir / "media"


_embedded_broker = []

# Every line the suite's processes log goes to one file as well, written as
# production writes it; scripts/scan-logs fails the run (.ci/run) when a line
# names a demo customer. The pytest processes and every process a test starts
# (gunicorn, Celery, manage.py) inherit LOG_FILE.
TEST_LOG = (
    Path(os.environ.get("CCM_VAR_DIR") or Path(__file__).parents[1] / "var")
    / "test-logs"
    / "run.log"
)


def _test_log_start() -> None:
    """Start the run's log afresh and send this process's lines to it too.

    Run by the process that starts the session (the xdist controller, or the
    one process of `-n 0`): xdist workers, started after it, and the
    processes tests start take LOG_FILE from the environment in their settings.
    """
    import logging

    from django.conf import settings

    from ccm.logs import TEXT_FORMAT, ContextFilter, JsonLineFormatter, RedactFilter

    TEST_LOG.parent.mkdir(parents=True, exist_ok=True)
    TEST_LOG.write_text("")
    os.environ["LOG_FILE"] = str(TEST_LOG)
    # This process's settings were read before: its handler is added here,
    # built as settings.LOGGING builds the file handler.
    handler = logging.FileHandler(TEST_LOG, mode="a", encoding="utf-8", delay=True)
    if settings.LOG_FORMAT == "json":
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    logging.getLogger().addHandler(handler)


def pytest_configure(config) -> None:
    if XDIST_WORKER:
        _worker_isolate(XDIST_WORKER)
    else:
        _test_log_start()
    xdist_controller = not XDIST_WORKER and getattr(config.option, "numprocesses", 0)
    if _broker_url().startswith("redis+socket://") and not xdist_controller:
        # No CELERY_BROKER_URL: the embedded broker, started as `make run` does.
        from django.conf import settings

        from tests.processes import redis_embedded_start

        _embedded_broker.append(
            redis_embedded_start(Path(settings.EMBEDDED_BROKER_SOCKET))
        )


def pytest_unconfigure(config) -> None:
    for server in _embedded_broker:
        server.terminate()
        server.wait(timeout=30)


def _database_vendor() -> str:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]


def _broker_url() -> str:
    from django.conf import settings

    return settings.CELERY_BROKER_URL


def _reachable(url: str, default_port: int) -> str | None:
    """Return None when a TCP connection to the URL's host works, else the error."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as exc:
        return f"{host}:{port}: {exc}"


def pytest_report_header(config) -> list[str]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    where = db.get("HOST") or db["NAME"]
    return [
        f"database: {_database_vendor()} ({where})",
        f"broker: {_broker_url().split('@')[-1]}",
        f"CI: {IN_CI}",
    ]


def pytest_sessionstart(session) -> None:
    if not IN_CI:
        return
    problems = []
    if _database_vendor() != "postgresql":
        problems.append(
            "PostgreSQL is required under CI: DATABASE_URL must be postgres://..."
        )
    else:
        from django.conf import settings

        db = settings.DATABASES["default"]
        url = f"postgres://{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
        if error := _reachable(url, 5432):
            problems.append(f"PostgreSQL is not reachable at {error}")
    if not _broker_url().startswith("redis://"):
        problems.append(
            "Redis is required under CI: CELERY_BROKER_URL must be redis://..."
        )
    elif error := _reachable(_broker_url(), 6379):
        problems.append(f"Redis is not reachable at {error}")
    if problems:
        raise pytest.UsageError("; ".join(problems))


# Tests that start workers, beat, Redis or writer processes of their own. Under
# `--dist loadgroup` they run one after another on one xdist worker, so two of
# them never compete for the CPU (the fault tests hold 10-second leases).
PROCESS_TESTS = (
    "tests/audit/test_concurrency.py::",
    "tests/ccm/test_worker.py::",
    "tests/ccm/test_stack.py::",
    "tests/ccm/test_deploy.py::test_two_beats",
    "tests/ccm/test_logs.py::test_gunicorn",
    "tests/console/test_private_logs.py::",
    "tests/channels_app/test_faults.py::",
    "tests/channels_app/test_logs.py::test_a_full_send",
    "tests/channels_app/test_batches.py::test_a_worker_killed_mid_run",
    "tests/channels_app/test_batches.py::test_the_operator_uploads_a_csv",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.nodeid.startswith(PROCESS_TESTS):
            item.add_marker(pytest.mark.xdist_group("processes"))
    if IN_CI:
        return
    no_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    no_redis = pytest.mark.skip(reason="needs Redis: set CELERY_BROKER_URL=redis://...")
    for item in items:
        if "postgres" in item.keywords and _database_vendor() != "postgresql":
            item.add_marker(no_pg)
        if "redis" in item.keywords and not _broker_url().startswith("redis://"):
            item.add_marker(no_redis)


@pytest.fixture(scope="session")
def _shared_rows(django_db_setup, django_db_blocker):
    shared.current = shared.SharedRows(django_db_blocker)
    yield shared.current
    shared.current.leave()
    shared.current = None


@pytest.fixture
def _shared_rows_enter(request, _shared_rows) -> None:
    if name := shared.wanted(request.node):
        _shared_rows.enter(name)
    else:
        _shared_rows.leave()


@pytest.fixture
def _django_db_helper(_shared_rows_enter, _django_db_helper):
    """pytest-django's per-test database setup, on top of the shared rows.

    `_shared_rows_enter` comes first so the shared transaction is open before
    pytest-django enters the test's own atomic blocks (savepoints within it).
    """
    yield


def pytest_runtest_setup(item) -> None:
    # A test that does not ask for the shared rows never sees them, even one
    # without database access (a child process could reach the test database).
    if shared.current is not None and shared.wanted(item) is None:
        shared.current.leave()


@pytest.fixture(autouse=True)
def _queued_trigger_templates_forgotten():
    """Each test reads its own templates in force for queued API triggers."""
    from channels_app.intake import intake_templates_forget

    intake_templates_forget()


@pytest.fixture(autouse=True)
def _language_restored():
    """Leave no language active after a test.

    A signed-in user's language is activated for the thread that serves the
    request (`ccm.middleware`), and a test client's requests are served on
    the test's own thread: without this, a test that signs in an Arabic user
    would leave Arabic active for the tests that follow it in the process.
    """
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Hash test passwords with MD5, as Django advises for test suites.

    The default PBKDF2 costs ~0.5 s per user created or logged in with a
    password; no test is about the hasher, and `check --deploy` runs in a
    child process with the real settings.
    """
    from django.test import override_settings

    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    ):
        yield


@pytest.fixture(scope="session", autouse=True)
def _force_login_with_second_factor():
    """`Client.force_login` signs in with both factors, as it skips the password.

    force_login stands for "this user has signed in"; for a user who must give
    a second factor (accounts.mfa) that includes the code. It gets a confirmed
    TOTP device and the session is marked verified with it, as django-otp does
    after a right code. Tests of the sign-in itself go through the forms
    (tests/signin.py) or pass `second_factor=False`.
    """
    from django.test import Client

    original = Client.force_login

    def force_login(self, user, backend=None, *, second_factor=True):
        original(self, user, backend)
        session = self.session
        from accounts.mfa import NEEDED_SESSION_KEY

        if second_factor and session.get(NEEDED_SESSION_KEY):
            from django_otp import DEVICE_ID_SESSION_KEY

            from tests.signin import totp_device

            session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
            session.save()

    Client.force_login = force_login
    yield
    Client.force_login = original


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (its own browser downloads fail here)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run `make install`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


# Every frame reports the Content-Security-Policy violations it sees.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspReport({document: event.documentURI,
    directive: event.violatedDirective, blocked: event.blockedURI,
    sample: event.sample, source: event.sourceFile + ":" + event.lineNumber});
});
"""
# Documents whose own policy is meant to block what they hold (a draft's or a
# stored email's remote image, say): their refusals are the policy working.
CSP_OWN_POLICY_DOCUMENTS = ("about:srcdoc", "/email.html")


@contextlib.contextmanager
def csp_watched_page(browser, **context_options):
    """Yield a Chromium page; fail if the site's CSP refused anything on it.

    Chromium also prints each refusal on its console ("Refused to ..."): kept
    for the failure message.
    """
    context = browser.new_context(
        **{"viewport": {"width": 1366, "height": 900}, **context_options}
    )
    violations: list[dict] = []
    context.expose_binding(
        "__cspReport", lambda source, violation: violations.append(violation)
    )
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.csp_violations = violations
    try:
        yield page
    finally:
        context.close()
    kept = [
        v for v in violations if not v["document"].endswith(CSP_OWN_POLICY_DOCUMENTS)
    ]
    assert not kept, f"Content-Security-Policy violations: {kept}\n{console}"


@pytest.fixture
def page(browser):
    """A Chromium page; the test fails if the site's CSP refused anything on it."""
    with csp_watched_page(browser) as page:
        yield page


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server on loopback; Django's SMTP backend points at it."""
    from tests.smtp import SmtpSink, free_port, smtp_start

    sink = SmtpSink()
    port = free_port()
    controller = smtp_start(sink, port)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield sink
    finally:
        controller.stop()


def _demo_templates_seed() -> dict[str, int]:
    from tests.factories import demo_templates_approved

    return {code: t.pk for code, t in demo_templates_approved().items()}


shared.SharedRows.seeds["demo_templates"] = _demo_templates_seed


@pytest.fixture
def demo_templates(db) -> dict:
    """The demo templates, approved and in force: {code: Template}.

    Seeded once for consecutive tests that ask for it (see SharedRows); a test
    that commits gets its own seed, which pytest-django flushes after it.
    """
    from templates_app.models import Template

    if pks := shared.rows("demo_templates"):
        return {code: Template.objects.get(pk=pk) for code, pk in pks.items()}
    from tests.factories import demo_templates_approved

    return demo_templates_approved()
