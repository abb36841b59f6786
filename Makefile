# orderflow: every target works on a fresh machine; the first one that needs it builds .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test compat lint typecheck unit bench soak clean package deploy destroy

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
test: lint typecheck
	$(BIN)/pytest -q

## The tests once more on Python 3.13, the deployed runtime (PYTHON313=path/to/python3.13).
PYTHON313 ?= python3.13
compat:
	$(PYTHON313) -m venv .venv313
	.venv313/bin/pip install --quiet --upgrade 'pip<26.3'
	.venv313/bin/pip install --quiet -r requirements-dev.txt
	.venv313/bin/pip install --quiet --no-deps --no-build-isolation -e .
	.venv313/bin/pytest -q -p no:cacheprovider tests/unit tests/execution tests/cli tests/infra

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

## The conservation model for a long time with fresh seeds (SOAK_MINUTES=20 by default).
SOAK_MINUTES ?= 20
soak: $(STAMP)
	$(BIN)/python -m tests.model.soak --minutes $(SOAK_MINUTES)

## Deployment (needs the AWS CLI v2 and credentials): make deploy STAGE=dev, make destroy STAGE=dev.
## ALARM_EMAIL=ops@example.org subscribes that address to the stage's alarms (kept on later deploys).
STAGE ?= dev
STACK := orderflow-$(STAGE)
# The region: AWS_REGION, else the AWS CLI's configured one, else us-east-1 (`aws configure get
# region` prints nothing when none is set, and the AWS CLI may be missing: `make package` is offline).
AWS_REGION ?= $(or $(shell aws configure get region 2>/dev/null),us-east-1)
DEPLOY = AWS_DEFAULT_REGION=$(AWS_REGION) $(BIN)/python -m orderflow_cli.deploy
OUTPUT = $(DEPLOY) output $(STACK)

## chalice package (Terraform: CloudFormation refuses on_s3_event) into build/<stage>/, offline.
PACKAGE_DIR ?= build/$(STAGE)
package: $(STAMP)
	ORDERFLOW_DEPLOY_BUCKET=$${ORDERFLOW_DEPLOY_BUCKET:-orderflow-$(STAGE)-orders} \
	  AWS_DEFAULT_REGION=$(AWS_REGION) \
	  $(BIN)/chalice package --pkg-format terraform --stage $(STAGE) $(PACKAGE_DIR)
	$(BIN)/python infra/merge_terraform.py $(PACKAGE_DIR)/chalice.tf.json

deploy: $(STAMP)
	@test -n "$$(aws sts get-caller-identity --query Account --output text)" || \
	  (echo "no AWS credentials: see README, Deployment" && exit 1)
	$(eval ACCOUNT := $(shell aws sts get-caller-identity --query Account --output text))
	$(eval ARTIFACTS := orderflow-artifacts-$(ACCOUNT)-$(AWS_REGION))
	aws s3api head-bucket --bucket $(ARTIFACTS) 2>/dev/null || \
	  aws s3 mb s3://$(ARTIFACTS) --region $(AWS_REGION)
	mkdir -p build
	aws cloudformation package --template-file infra/stack.yaml --s3-bucket $(ARTIFACTS) \
	  --output-template-file build/stack-$(STAGE).yaml
	aws cloudformation deploy --stack-name $(STACK) --template-file build/stack-$(STAGE).yaml \
	  --parameter-overrides Stage=$(STAGE) $(if $(ALARM_EMAIL),AlarmEmail=$(ALARM_EMAIL)) \
  --capabilities CAPABILITY_IAM \
	  --no-fail-on-empty-changeset --region $(AWS_REGION)
	ORDERFLOW_DEPLOY_BUCKET=$$($(OUTPUT) BucketName) AWS_DEFAULT_REGION=$(AWS_REGION) \
	  $(BIN)/chalice deploy --stage $(STAGE)
	aws lambda update-event-source-mapping --function-response-types ReportBatchItemFailures \
	  --uuid $$(aws lambda list-event-source-mappings \
	    --function-name orderflow-$(STAGE)-ReviewDeadLetters --query 'EventSourceMappings[0].UUID' \
	    --output text) > /dev/null
	@echo "API: $$($(BIN)/chalice url --stage $(STAGE))"

destroy: $(STAMP)
	@$(DEPLOY) credentials  # no credentials: one sentence, before anything is deleted
	AWS_DEFAULT_REGION=$(AWS_REGION) $(BIN)/chalice delete --stage $(STAGE)
	bucket=$$($(OUTPUT) BucketName) && $(DEPLOY) empty-bucket "$$bucket"
	aws cloudformation delete-stack --stack-name $(STACK) --region $(AWS_REGION)
	aws cloudformation wait stack-delete-complete --stack-name $(STACK) --region $(AWS_REGION)

clean:
	rm -rf $(VENV) .venv313 .pytest_cache .mypy_cache .ruff_cache *.egg-info build
