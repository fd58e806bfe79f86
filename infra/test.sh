#!/usr/bin/env bash
# The whole test suite, as CI runs it: starts moto (DynamoDB, SQS stand-in) for the adapter
# conformance suites, runs every Rust test, then drives axhub-local with the official Python
# SDK. Needs only cargo and python3; installs moto and the SDK into virtualenvs under target/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

cleanup() { infra/moto.sh stop || true; infra/postgres.sh stop || true; }
trap cleanup EXIT

eval "$(infra/moto.sh start)"
eval "$(infra/postgres.sh start)"

# The SAM template is checked as CloudFormation sees it (SAM transform included).
LINT_VENV="$REPO/target/lint-venv"
if [[ ! -x "$LINT_VENV/bin/cfn-lint" ]]; then
    python3 -m venv "$LINT_VENV"
    "$LINT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'cfn-lint==1.*'
fi
"$LINT_VENV/bin/cfn-lint" template.yaml

cargo test --workspace --all-targets

cargo build -p axhub-local
SDK_VENV="$REPO/target/sdk-venv"
if [[ ! -x "$SDK_VENV/bin/python" ]]; then
    python3 -m venv "$SDK_VENV"
fi
"$SDK_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/sdk/python/requirements.txt
AXHUB_LOCAL_BIN="$REPO/target/debug/axhub-local" "$SDK_VENV/bin/python" -m pytest tests/sdk/python -q -p no:cacheprovider
