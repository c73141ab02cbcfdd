.PHONY: install run test lint format demo bench check-deploy

install:
	scripts/install

run:
	scripts/run

test:
	scripts/test

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	scripts/i18n-check

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

demo:
	.venv/bin/python manage.py migrate --no-input
	.venv/bin/python manage.py seed_demo

# Benchmarks print their figures; they use scratch databases on PostgreSQL.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
bench:
	DATABASE_URL=$(BENCH_DATABASE_URL) .venv/bin/python bench/audit_write.py
	DATABASE_URL=$(BENCH_DATABASE_URL) .venv/bin/python bench/audit_verify.py
	.venv/bin/python bench/render_templates.py
	.venv/bin/python bench/hostile_preview.py
	DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
		.venv/bin/python bench/dispatch_bulk.py
	DATABASE_URL=$(BENCH_DATABASE_URL) .venv/bin/python bench/console_queries.py
	DATABASE_URL=$(BENCH_DATABASE_URL) .venv/bin/python bench/rules_bulk.py
	DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
		.venv/bin/python bench/api_load.py
	DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
		.venv/bin/python bench/scale_out.py --kill
	DATABASE_URL=$(BENCH_DATABASE_URL) .venv/bin/python bench/inventory.py
	.venv/bin/python bench/letters_rate.py
	DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
		.venv/bin/python bench/peer_compare.py
