"""Benchmark the contact-center console's search and customer timeline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/console_queries.py [--dispatches 10000000]

Runs in a scratch database (bench_console). Fills it with INSERT ... SELECT
generate_series: customers (default one per ten dispatches), one communication
per dispatch, a hundred heavy customers holding 1% of all dispatches (pages of
timeline), then builds the trigram search indexes and ANALYZEs. Times the real
views through Django's test client as a signed-in Agent (URL routing,
middleware, session, permission check, query, template render and, for the
timeline, the audit event each view records), and prints p50/p95 server time
for each kind of search and for the timeline's first page, with the CPU time
per request of the process serving it and of its PostgreSQL backend. Each
timing runs in a fresh process beside a CPU-bound process the bench starts
(`--no-hog`: none). Target: p95 <= 50 ms. `--reuse` times again a database an
earlier run filled (same --dispatches); `--before DIR` (a checkout of the code
to compare with) times that code in turn with this one, `--alternations`
times.
"""

import argparse
import base64
import hashlib
import json
import multiprocessing
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

from scratch import ROOT, scratch_database_setup

FIRST = [
    "Sarah", "James", "Amelia", "Daniel", "Grace", "Thomas", "Lina", "Adam",
    "فاطمة", "محمد", "نورة", "عبدالله", "سارة", "خالد", "ريم", "فيصل",
]  # fmt: skip
LAST = [
    "Carter", "Hughes", "Bennett", "Collins", "Reed", "Walsh", "Nasser", "Haddad",
    "الحربي", "القحطاني", "العتيبي", "الدوسري", "الشمري", "الزهراني", "المالكي",
]  # fmt: skip
FIRST_EN, LAST_EN = FIRST[:8], LAST[:8]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "company.sa"]
HEAVY = 100  # customers that hold 1% of all dispatches between them
# A permutation of 0..9,999,999 (7919 is prime), so phone numbers are unique.
PHONE = "'+96650' || lpad(((g::bigint * 7919) % 10000000)::text, 7, '0')"


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _fill(customers: int, dispatches: int) -> None:
    from django.db import connection

    from console.indexes import search_indexes_create, search_indexes_drop
    from templates_app.models import TemplateVersion

    version = (
        TemplateVersion.objects.filter(
            status="approved", template__code="payment-reminder"
        )
        .select_related("template__category")
        .get()
    )
    search_indexes_drop(connection)
    first, last = _sql_array(FIRST), _sql_array(LAST)
    first_en, last_en = _sql_array(FIRST[:8]), _sql_array(LAST[:8])
    domains = _sql_array(DOMAINS)
    steps = [
        (
            f"{customers:,} customers",
            f"""
            INSERT INTO channels_app_customer
              (external_id, name, language, time_zone, email, phone,
               postal_address, calendar, digits, created, updated)
            SELECT 'CUST-' || lpad(g::text, 8, '0'),
                   ({first})[1 + g % {len(FIRST)}] || ' ' ||
                   ({last})[1 + (g / {len(FIRST)}) % {len(LAST)}],
                   CASE WHEN g % 2 = 0 THEN 'ar' ELSE 'en' END,
                   'Asia/Riyadh',
                   lower(({first_en})[1 + g % {len(FIRST_EN)}]) || '.' ||
                   lower(({last_en})[1 + (g / 7) % {len(LAST_EN)}]) || g ||
                   '@' || ({domains})[1 + g % {len(DOMAINS)}],
                   {PHONE},
                   g || ' King Fahd Road, Riyadh', '', '',
                   now(), now()
            FROM generate_series(1, {customers}) AS g
            """,  # noqa: S608 (numbers and constants of this script only)
        ),
        (
            f"{dispatches:,} communications",
            f"""
            INSERT INTO channels_app_communication
              (public_id, template_code, category, mandatory, template_version_id,
               customer_id, data, source_system, source_reference, requester_label,
               idempotency_key, scope, reason, correlation_key, supersedes,
               waits_for, created)
            SELECT gen_random_uuid(), '{version.template.code}',
                   '{version.template.category.code}', false, {version.pk},
                   (SELECT min(id) FROM channels_app_customer) - 1 +
                   CASE WHEN g % 100 = 0 THEN 1 + (g / 100) % {HEAVY}
                        ELSE 1 + (g::bigint * 2654435761) % {customers} END,
                   jsonb_build_object('policy_number', 'MT-' || g, 'amount', g % 900),
                   'core-banking', 'REF-' || g, 'bench', '', '', '', '', '[]', '[]',
                   now() - ((g::bigint * 7919) % 31536000) * interval '1 second'
            FROM generate_series(1, {dispatches}) AS g
            """,  # noqa: S608
        ),
        (
            f"{dispatches:,} dispatches",
            """
            INSERT INTO channels_app_dispatch
              (communication_id, channel, language, address, status, status_changed,
               due_at, attempt_count, max_attempts, subject, body_html, body_text,
               letter_pdf, content_sha256, block_versions, provider_message_id,
               error, severity, decision, rule_decisions, category,
               content_erased_cause, erased_parts, created)
            SELECT c.id,
                   (ARRAY['email','sms','letter'])[1 + c.id % 3],
                   'en', 'customer@example.com',
                   (ARRAY['delivered','sent','failed','queued','suppressed',
                          'delivered'])[1 + c.id % 6],
                   c.created, c.created, 1, 5,
                   'Your payment for policy ' || (c.data->>'policy_number')
                     || ' is due',
                   '<p>Dear customer</p>', 'Dear customer',
                   '', md5(c.id::text) || md5(c.id::text), '{}', '', '', '',
                   'no objection recorded',
                   CASE WHEN c.id % 10 = 0 THEN
                     '[{"rule":"quiet-hours","version":1,"outcome":"deferred",
                        "reason":"night","stage":"trigger","at":"2026-01-01"}]'::jsonb
                   ELSE '[]'::jsonb END,
                   c.category, '', 0, c.created
            FROM channels_app_communication c
            """,
        ),
    ]
    tables = [
        "channels_app_customer",
        "channels_app_communication",
        "channels_app_dispatch",
    ]
    with connection.cursor() as cursor:
        # Load as a restore does: the generated rows are consistent by
        # construction, so no foreign-key trigger checks them one by one, and
        # the secondary indexes are built once at the end rather than kept up
        # row by row (at 10M rows that is most of the time).
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        rebuild = _secondary_indexes_drop(cursor, tables)
        for label, sql in steps:
            started = time.perf_counter()
            cursor.execute(sql)
            print(f"  filled {label} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for statement in rebuild:
            cursor.execute(statement)
        cursor.execute("SET session_replication_role = DEFAULT")
        print(
            f"  {len(rebuild)} indexes and unique constraints rebuilt in "
            f"{time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        search_indexes_create(connection)
        print(f"  search indexes built in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE channels_app_customer")
        cursor.execute("VACUUM ANALYZE channels_app_communication")
        cursor.execute("VACUUM ANALYZE channels_app_dispatch")
        print(f"  vacuum analyze in {time.perf_counter() - started:.1f} s")


def _secondary_indexes_drop(cursor, tables: list[str]) -> list[str]:
    """Drop the tables' indexes and unique constraints but the primary keys.

    Return the statements that create them again.
    """
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname,
               pg_get_constraintdef(c.oid)
        FROM pg_constraint c
        WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype = 'u'
        """,
        [tables],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[])
          AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        [tables],
    )
    indexes = cursor.fetchall()
    for table, name, _definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in constraints
    ]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered), p95


def _backend_cpu(pid: int) -> float | None:
    """Return the CPU seconds a PostgreSQL backend on this host has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Time requests: server time, this process's CPU, its PostgreSQL backend's."""

    def __init__(self, client, backend_pid: int):
        self.client = client
        self.backend_pid = backend_pid

    def __call__(self, url: str, params: dict | None = None) -> tuple:
        backend = _backend_cpu(self.backend_pid)
        cpu, started = time.process_time(), time.perf_counter()
        response = self.client.get(url, params or {})
        elapsed = (time.perf_counter() - started) * 1000
        cpu = (time.process_time() - cpu) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url} {params}: HTTP {response.status_code}")
        after = _backend_cpu(self.backend_pid)
        database = None if backend is None else (after - backend) * 1000
        return elapsed, cpu, database


def _queries(customers: int, rng: random.Random, rounds: int) -> dict[str, list]:
    """Return, per kind of search, what an agent would type."""
    from customers.models import Customer

    kinds: dict[str, list] = {
        "phone typed with spaces": [],
        "phone with 00 prefix": [],
        "partial phone (last 7 digits)": [],
        "external id": [],
        "email typed whole": [],
        "email fragment (start)": [],
        "email fragment (middle)": [],
        "name fragment (common)": [],
        "full name": [],
    }
    for _ in range(rounds):
        g = rng.randrange(1, customers + 1)
        local = f"{(g * 7919) % 10000000:07d}"
        kinds["phone typed with spaces"].append(f"050 {local[:3]} {local[3:]}")
        kinds["phone with 00 prefix"].append(f"0096650{local}")
        kinds["partial phone (last 7 digits)"].append(f"{local[:3]} {local[3:]}")
        kinds["external id"].append(f"CUST-{g:08d}")
        email = Customer.objects.filter(external_id=f"CUST-{g:08d}").values_list(
            "email", flat=True
        )[0]
        kinds["email typed whole"].append(email.upper())
        kinds["email fragment (start)"].append(email[: email.index("@") + 2])
        kinds["email fragment (middle)"].append(email.split("@")[0].split(".")[1][-6:])
        kinds["name fragment (common)"].append(rng.choice(LAST)[:5])
        kinds["full name"].append(f"{rng.choice(FIRST)} {rng.choice(LAST)}")
    return kinds


def _explain(sql_queryset) -> str:
    """Return the scans and joins of a queryset's plan, or of a statement's."""
    if isinstance(sql_queryset, str):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql_queryset}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
    else:
        plan = sql_queryset.explain()
    return " / ".join(
        line.strip().split("  (")[0]
        for line in plan.splitlines()
        if "Scan" in line or "Join" in line or "Nested" in line
    )


def _timeline_statement(customer) -> str:
    """Return the statement that reads a customer's first timeline page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from console import selectors

    with CaptureQueriesContext(connection) as queries:
        selectors.timeline_rows(customer, selectors.TimelineFilter(), 0, 26)
    return queries.captured_queries[-1]["sql"]


def _signed_in() -> tuple:
    """Set Django up in the code to time; return the agent's client and ids."""
    sys.path.insert(0, os.getcwd())
    os.environ["DJANGO_SETTINGS_MODULE"] = "ccm.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from customers.models import Customer

    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        call_command("collectstatic", interactive=False, verbosity=0)  # as deployed
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="bench-agent"))
    customers = Customer.objects.count()
    first_id = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    return client, customers, first_id


def _search_url(client, query: str) -> str:
    """Post a search as the agent does; return the results page it leads to.

    The session keeps an agent's last 20 searches (console.views): a results
    page is timed right after its search, while it is still kept.
    """
    return client.post("/agent/", {"q": query})["Location"]


def _timing(requests: int, seed: int) -> dict:
    """Time search and the timeline's first page on the filled database.

    Runs in a fresh process whose working directory is the code to time.
    """
    from django.db import connection

    client, customers, first_id = _signed_in()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        meter = Meter(client, cursor.fetchone()[0])
    rng = random.Random(seed)
    lines: dict[str, list] = {}
    for kind, typed in _queries(customers, rng, requests).items():
        meter(_search_url(client, typed[0]))  # warm
        lines[f"search: {kind}"] = [meter(_search_url(client, q)) for q in typed]
    lines["search: all kinds"] = [
        sample for kind, samples in lines.items() for sample in samples
    ]
    for label, pick in (
        ("timeline page 1 (any)", lambda: rng.randrange(customers)),
        ("timeline page 1 (heavy)", lambda: rng.randrange(HEAVY)),
    ):
        ids = [first_id + pick() for _ in range(requests)]
        meter(f"/agent/customers/{ids[0]}/")
        lines[label] = [meter(f"/agent/customers/{pk}/") for pk in ids]
    figures = {}
    for label, samples in lines.items():
        p50, p95 = _percentiles([sample[0] for sample in samples])
        database = [sample[2] for sample in samples if sample[2] is not None]
        figures[label] = {
            "p50": p50,
            "p95": p95,
            "cpu": statistics.mean(sample[1] for sample in samples),
            "database": statistics.mean(database) if database else None,
        }
    return figures


def _counting(kind: str, requests: int, seed: int) -> None:
    """Request `requests` pages of one kind, each a second time, counted from gate()."""
    from instructions import gate

    client, customers, first_id = _signed_in()
    rng = random.Random(seed)
    if kind == "search":
        # The kinds in turn, as agents type them; as many searches as the
        # session keeps, each results page requested again and again.
        by_kind = _queries(customers, rng, 3).values()
        typed = [query for turn in zip(*by_kind, strict=True) for query in turn]
        urls = [_search_url(client, query) for query in typed[:20]]
    else:
        urls = [
            f"/agent/customers/{first_id + rng.randrange(customers)}/"
            for _ in range(requests)
        ]
    # Every page once first: what a process does once (imports, compiled
    # statements, stamped fragments, phone metadata) is not a request's cost.
    for url in urls:
        client.get(url)
    gate()
    for turn in range(requests):
        response = client.get(urls[turn % len(urls)])
        if response.status_code != 200 or b"search-expired" in response.content:
            raise SystemExit(f"{urls[turn % len(urls)]}: not a results page")


def _instructions_print(codes: list[tuple[str, Path]], requests: int) -> None:
    """Print instructions per request of each code, counted by callgrind."""
    from instructions import counted

    print(
        f"\nInstructions per request (callgrind; {requests} requests after a "
        "warm-up; the same whatever else the machine runs):"
    )
    for kind in ("search", "timeline"):
        figures = {}
        for name, code in codes:
            total = counted(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--counting",
                    kind,
                    "--timing",
                    str(requests),
                ],
                code,
            )
            figures[name] = total / requests
            print(f"  {kind:<9} {name:<7} {figures[name] / 1e6:7.2f} M")
        if len(figures) == 2:
            ratio = figures["after"] / figures["before"]
            print(f"  {kind:<9} after / before: {ratio:.3f}")


def _timed(code: Path, requests: int, seed: int) -> dict:
    """Run `_timing` in a new process in `code` and return its figures."""
    run = subprocess.run(  # noqa: S603 (this script, with its own arguments)
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--timing",
            str(requests),
            "--seed",
            str(seed),
        ],
        cwd=code,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit(f"timing in {code} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _hog(stop) -> None:
    """Keep one core busy until told to stop (a CPU-bound neighbour)."""
    spins = 0
    while not stop.is_set():
        spins += sum(range(10_000))


def _figures_print(runs: list[tuple[str, float, dict]]) -> None:
    labels = list(runs[0][2])
    print(
        f"  {'':<37} {'':<10} {'p50':>6} {'p95':>6} {'CPU':>6} {'PG':>5}  (ms; "
        "CPU and PG = this process's and its PostgreSQL backend's CPU per request)"
    )
    for label in labels:
        for name, load, figures in runs:
            line = figures[label]
            database = "-" if line["database"] is None else f"{line['database']:.1f}"
            print(
                f"  {label:<37} {name:<10} {line['p50']:6.1f} {line['p95']:6.1f} "
                f"{line['cpu']:6.1f} {database:>5}  load {load:.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dispatches", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, help="default: one per ten dispatches")
    parser.add_argument("--rounds", type=int, default=200, help="requests per line")
    parser.add_argument("--database", default="bench_console")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the database an earlier run filled with as many dispatches",
    )
    parser.add_argument("--before", type=Path, help="a checkout of the code before")
    parser.add_argument(
        "--alternations", type=int, default=2, help="before/after turns with --before"
    )
    parser.add_argument(
        "--no-hog", action="store_true", help="no CPU-bound process beside the bench"
    )
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="also count instructions per request over N requests (valgrind)",
    )
    parser.add_argument("--counting", help=argparse.SUPPRESS)
    parser.add_argument("--timing", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    customers = args.customers or max(1000, args.dispatches // 10)

    # Server time as in production: DEBUG off (no query log, no debug
    # template annotations); plain HTTP from the test client, so no redirect.
    os.environ.update(
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        # One key per scratch database, the same in every run: the subject
        # keys an earlier run (or --reuse) wrapped still unwrap.
        AUDIT_MASTER_KEY=os.environ.get("AUDIT_MASTER_KEY")
        or base64.urlsafe_b64encode(
            hashlib.sha256(f"bench:{args.database}".encode()).digest()
        ).decode(),
    )
    if args.counting:
        _counting(args.counting, args.timing, args.seed)
        return
    if args.timing:
        print(json.dumps(_timing(args.timing, args.seed)))
        return
    scratch_database_setup(args.database, keep=args.reuse)
    from django.contrib.auth.models import Group, User
    from django.db.models.functions import Reverse

    from ccm.roles import AGENT
    from channels_app.models import Dispatch
    from console import selectors
    from customers.models import Customer
    from templates_app.demo import demo_approved_seed

    if args.reuse:
        held = Dispatch.objects.count()
        if held != args.dispatches:
            raise SystemExit(
                f"{args.database} holds {held:,} dispatches, not "
                f"{args.dispatches:,}: run without --reuse to fill it"
            )
        customers = Customer.objects.count()
        print(f"Reusing {args.database}, filled by an earlier run.")
    else:
        users = [
            User.objects.create(
                username=f"bench-{role}", is_superuser=True, is_staff=True
            )
            for role in ("author", "reviewer", "reviewer-2")
        ]
        demo_approved_seed(author=users[0], reviewer=users[1], second_reviewer=users[2])
        print(f"Filling {args.database}:")
        _fill(customers, args.dispatches)
        agent = User.objects.create(username="bench-agent", is_staff=True)
        agent.groups.add(Group.objects.get(name=AGENT))

    codes = [("after", ROOT)]
    if args.before:
        codes.insert(0, ("before", args.before.resolve()))
    stop = multiprocessing.Event()
    hog = None
    if not args.no_hog:
        hog = multiprocessing.Process(target=_hog, args=(stop,), daemon=True)
        hog.start()
    print(
        f"\n{customers:,} customers, {args.dispatches:,} dispatches; "
        f"{args.rounds} requests a line, each run in a fresh process; "
        + (f"CPU hog beside it: pid {hog.pid}, one core spinning" if hog else "no hog")
    )
    runs = []
    try:
        for turn in range(args.alternations if args.before else 1):
            for name, code in codes:
                load = os.getloadavg()[0]
                runs.append((f"{name} {turn + 1}", load, _timed(code, args.rounds, 7)))
    finally:
        stop.set()
        if hog is not None:
            hog.join()
    _figures_print(runs)
    if args.instructions:
        _instructions_print(codes, args.instructions)
    heavy = Customer.objects.order_by("pk").first()
    print(
        "\nheavy customer:",
        selectors.timeline(heavy).count(),
        "dispatches; timeline plan:",
        _explain(_timeline_statement(heavy)),
    )
    print(
        "phone search plan:",
        _explain(
            Customer.objects.annotate(r=Reverse("phone"))
            .filter(r__startswith="7654321")[:26]
            .only("id")
        ),
    )
    print(
        "name search plan:",
        _explain(Customer.objects.filter(name__icontains="Carter")[:26].only("id")),
    )


if __name__ == "__main__":
    main()
