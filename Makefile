# The README's commands. Every target installs what it needs first, so a fresh clone
# needs nothing but python3.11, node/npm and make.
SHELL := /bin/bash
STAGE ?= 0
PORT ?= 8080
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: install synth test lint typecheck run-local bench plan docs clean

$(VENV)/.installed: requirements.txt requirements-dev.txt $(wildcard service/requirements.txt)
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

synth: install
	npx cdk synth --all -q -c stage=$(STAGE)
	@echo "stage $(STAGE): templates in cdk.out/"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest
	$(MAKE) typecheck

# The two Lambda handlers are each a module named "app", like app.py: one mypy run each.
typecheck: install
	$(VENV)/bin/mypy app.py scaling_stacks constructs_lib service tools
	$(VENV)/bin/mypy lambda/post_worker/app.py
	$(VENV)/bin/mypy lambda/activity_consumer/app.py

run-local: install
	$(PY) -m service.run_local --stage $(STAGE) --port $(PORT)

bench: install
	$(PY) -m service.bench

plan: install
	$(PY) -m tools.stage_plan --from $(FROM) --to $(TO) $(PLAN_ARGS)

docs: install
	@# The images need Graphviz's dot (Debian package graphviz); the Markdown and graph sources do not.
	command -v dot >/dev/null || (apt-get update && apt-get install -y graphviz) \
		|| { echo "make docs: install Graphviz ('apt-get install graphviz') to draw the images" >&2; exit 1; }
	$(PY) -m tools.docs

clean:
	rm -rf cdk.out .pytest_cache
