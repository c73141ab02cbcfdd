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

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

demo:
	.venv/bin/python manage.py migrate --no-input
	.venv/bin/python manage.py seed_demo

bench:
	@for script in bench/*.py; do echo "==> $$script"; .venv/bin/python "$$script" || exit 1; done
