# The README's commands. Every target installs what it needs first, so a fresh clone
# needs nothing but python3.11, node/npm and make.
SHELL := /bin/bash
STAGE ?= 0
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: install synth test lint run-local bench plan drill docs clean

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
	$(MAKE) --no-print-directory drill

run-local: install
	$(PY) -m service.run_local --stage $(STAGE)

bench: install
	$(PY) -m service.bench

plan: install
	$(PY) -m tools.stage_plan --from $(FROM) --to $(TO) $(PLAN_ARGS)

# Every adjacent upgrade (one system from stage 0 to 6), or one: make drill FROM=4 TO=5.
drill: install
	$(PY) -m tools.drill $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO))

docs: install
	@# The images need Graphviz's dot (Debian package graphviz); the Markdown and graph sources do not.
	command -v dot >/dev/null || (apt-get update && apt-get install -y graphviz) \
		|| { echo "make docs: install Graphviz ('apt-get install graphviz') to draw the images" >&2; exit 1; }
	$(PY) -m tools.docs

clean:
	rm -rf cdk.out .pytest_cache
