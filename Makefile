# Two commands: `make run` starts the whole site, `make test` runs the tests.
PY := .venv/bin/python
VENV_STAMP := .venv/.installed

.PHONY: run test lint format

$(VENV_STAMP): requirements.txt
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -r requirements.txt
	touch $(VENV_STAMP)

run: $(VENV_STAMP)
	$(PY) manage.py runsite

# Uses DATABASE_URL / REDIS_URL when set (CI sets PostgreSQL and Redis); otherwise SQLite and an
# embedded Redis started just for the run.
test: $(VENV_STAMP)
	$(PY) -m sora_site.testrun $(ARGS)

lint: $(VENV_STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	.venv/bin/lint-imports

format: $(VENV_STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .
