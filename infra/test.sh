#!/usr/bin/env bash
# The whole test suite, as CI runs it: starts moto (DynamoDB, SQS stand-in) for the adapter
# conformance suites, lints template.yaml (cfn-lint, sam validate), runs every Rust test, then
# drives axhub-local with the official Python SDK (and its GitHub setup page with headless
# Chromium). Needs cargo, python3, and Debian's chromium and chromium-driver (.ci/run installs
# them); installs moto, the linters, the SDK and selenium into virtualenvs under target/. (CI
# also builds every function for Lambda first: infra/build-lambdas.sh.)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

cleanup() { infra/moto.sh stop || true; infra/postgres.sh stop || true; }
trap cleanup EXIT

eval "$(infra/moto.sh start)"
eval "$(infra/postgres.sh start)"

# The SAM template is checked as CloudFormation sees it (cfn-lint, SAM transform included)
# and as SAM sees it (`sam validate --lint`: the transform itself, offline).
LINT_VENV="$REPO/target/lint-venv"
if [[ ! -x "$LINT_VENV/bin/cfn-lint" || ! -x "$LINT_VENV/bin/sam" ]]; then
    python3 -m venv "$LINT_VENV"
    "$LINT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        'cfn-lint==1.*' 'aws-sam-cli==1.*'
fi
"$LINT_VENV/bin/cfn-lint" template.yaml
AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 "$LINT_VENV/bin/sam" validate --lint \
    --template-file template.yaml

cargo test --workspace --all-targets

cargo build -p axhub-local
SDK_VENV="$REPO/target/sdk-venv"
if [[ ! -x "$SDK_VENV/bin/python" ]]; then
    python3 -m venv "$SDK_VENV"
fi
"$SDK_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/sdk/python/requirements.txt
AXHUB_LOCAL_BIN="$REPO/target/debug/axhub-local" "$SDK_VENV/bin/python" -m pytest tests/sdk/python -q -p no:cacheprovider
