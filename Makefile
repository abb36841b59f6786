# orderflow: every target works on a fresh machine; the first one that needs it builds .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test compat lint typecheck unit bench capacity soak clean package deploy destroy \
	rehearse-deploy browser-test

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip<26.3'  # chalice 1.34 requires pip<26.3
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## Process the repo's own sample files through the whole pipeline on the embedded emulator.
run: $(STAMP)
	$(BIN)/orders run samples/*

## Lint, type check and every test.
## Two worker processes (pytest-xdist, worksteal), one per core: 3m45s measured on this 2-core machine.
test: lint typecheck
	$(BIN)/pytest -q -n 2

## The pipeline's tests once more on Python 3.13, the deployed runtime (PYTHON313=path/to/python3.13):
## every state-machine test and the readers' (what runs in Lambda), not the CLI's or infra's,
## which keeps CI under 20 minutes.
PYTHON313 ?= python3.13
compat:
	$(PYTHON313) -m venv .venv313
	.venv313/bin/pip install --quiet --upgrade 'pip<26.3'
	.venv313/bin/pip install --quiet -r requirements-dev.txt
	.venv313/bin/pip install --quiet --no-deps --no-build-isolation -e .
	.venv313/bin/pytest -q -n 2 -p no:cacheprovider tests/execution tests/unit/readers

## The partners' page in a real browser (tests/browser, docs/testing.md), from nothing: Debian's
## chromium (apt-get, when CHROMIUM is missing: needs root), Playwright for Python
## (requirements-browser.txt; its driver is in the wheel, its browser download never runs) and
## axe-core (npm ci in tests/browser, from its package-lock.json; Debian's npm when missing).
CHROMIUM ?= /usr/bin/chromium
BROWSER_STAMP := $(VENV)/.browser-installed
AXE := tests/browser/node_modules/axe-core/axe.min.js
# $(call apt,PACKAGE,WHAT IS MISSING): Debian's PACKAGE, or what to do when not root.
apt = if [ "$$(id -u)" != 0 ]; then \
	  echo "browser-test: $(2) is missing: install Debian's $(1) as root (sudo apt-get update" \
	    "&& sudo apt-get install -y $(1))$(3)" >&2; exit 1; fi; \
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1)

browser-test: $(BROWSER_STAMP) $(AXE) $(CHROMIUM)
	CHROMIUM=$(CHROMIUM) $(BIN)/pytest -q -p no:cacheprovider -m browser tests/browser

$(BROWSER_STAMP): $(STAMP) requirements-browser.txt
	$(BIN)/pip install --quiet -r requirements-browser.txt
	touch $@

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@command -v npm > /dev/null || { $(call apt,npm,npm); }
	cd tests/browser && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

$(CHROMIUM):
	@$(call apt,chromium,$(CHROMIUM),; or name another Chromium: make browser-test CHROMIUM=PATH)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# W3002: DefinitionS3Location is a local path on purpose; `aws cloudformation package` uploads it
	$(BIN)/cfn-lint --ignore-checks W3002 -- infra/stack.yaml

typecheck: $(STAMP)
	$(BIN)/mypy

## Speed, memory and modelled cost on a generated file (ORDERS=100000 by default).
ORDERS ?= 100000
bench: $(STAMP)
	$(BIN)/python bench/pipeline_bench.py --orders $(ORDERS) --seed-orders 2000 --rates 0.01,0.1,0.3 --scale

## The capacity model on AWS (docs/capacity.md): time, binding limit and cost of 100,000 and
## 1,000,000 orders, one sender and ten, new and warmed table; fails when the design misses an aim.
capacity: $(STAMP)
	$(BIN)/python -m bench.capacity

## The conservation model for a long time with fresh seeds (SOAK_MINUTES=20 by default).
SOAK_MINUTES ?= 20
soak: $(STAMP)
	$(BIN)/python -m tests.model.soak --minutes $(SOAK_MINUTES)

## Deployment (needs AWS credentials; no AWS CLI): make deploy STAGE=dev, make destroy STAGE=dev.
## ALARM_EMAIL=ops@example.org subscribes that address to the stage's alarms (kept on later deploys).
## ORDERS_WARM_WRITES=40000 warms the orders table to that many writes a second (kept likewise;
## `make capacity`: a million orders in under a minute warmed, under five minutes new).
## Every step honours AWS_ENDPOINT_URL: `make rehearse-deploy` runs these same targets against the
## embedded emulator (orderflow_cli/rehearsal.py).
STAGE ?= dev
STACK := orderflow-$(STAGE)
# The region: AWS_REGION, else the AWS CLI's configured one, else us-east-1 (`aws configure get
# region` prints nothing when none is set, and the AWS CLI may be missing: `make package` is offline).
ifndef AWS_REGION
AWS_REGION := $(or $(shell aws configure get region 2>/dev/null),us-east-1)
endif
DEPLOY = AWS_DEFAULT_REGION=$(AWS_REGION) $(BIN)/python -m orderflow_cli.deploy
OUTPUT = $(DEPLOY) output $(STACK)

## chalice package (Terraform: CloudFormation refuses on_s3_event) into build/<stage>/, offline.
PACKAGE_DIR ?= build/$(STAGE)
package: $(STAMP)
	ORDERFLOW_DEPLOY_BUCKET=$${ORDERFLOW_DEPLOY_BUCKET:-orderflow-$(STAGE)-orders} \
	  AWS_DEFAULT_REGION=$(AWS_REGION) \
	  $(BIN)/chalice package --pkg-format terraform --stage $(STAGE) $(PACKAGE_DIR)
	$(BIN)/python infra/merge_terraform.py $(PACKAGE_DIR)/chalice.tf.json

# 1. the stack (packaged: the state machine's definition goes to the artifacts bucket), 2. the
# functions, API and triggers by Chalice, 3. partial batch responses on the DLQ's mapping,
# 4. API Gateway's answer to an unknown route in the API's error shape.
deploy: $(STAMP)
	@$(DEPLOY) credentials  # no credentials: one sentence, before anything is created
	$(DEPLOY) stack $(STACK) infra/stack.yaml Stage=$(STAGE) $(if $(ALARM_EMAIL),AlarmEmail=$(ALARM_EMAIL)) \
	  $(if $(ORDERS_WARM_WRITES),OrdersWarmWrites=$(ORDERS_WARM_WRITES))
	ORDERFLOW_DEPLOY_BUCKET=$$($(OUTPUT) BucketName) AWS_DEFAULT_REGION=$(AWS_REGION) \
	  $(BIN)/chalice deploy --stage $(STAGE)
	$(DEPLOY) partial-batch orderflow-$(STAGE)-ReviewDeadLetters
	$(DEPLOY) gateway-responses $(STAGE)
	@echo "API: $$($(BIN)/chalice url --stage $(STAGE))"

destroy: $(STAMP)
	@$(DEPLOY) credentials  # no credentials: one sentence, before anything is deleted
	AWS_DEFAULT_REGION=$(AWS_REGION) $(BIN)/chalice delete --stage $(STAGE)
	bucket=$$($(OUTPUT) BucketName) && $(DEPLOY) empty-bucket "$$bucket"
	$(DEPLOY) delete-stack $(STACK)

## `make deploy` then `make destroy` against the embedded emulator acting as an AWS account, and
## what a first deploy needs checked in between (tests/infra/test_rehearsed_deploy.py).
rehearse-deploy: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m rehearsal tests/infra/test_rehearsed_deploy.py

clean:
	rm -rf $(VENV) .venv313 .pytest_cache .mypy_cache .ruff_cache *.egg-info build
