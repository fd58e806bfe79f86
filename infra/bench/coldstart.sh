#!/usr/bin/env bash
# Cold start of the HTTP Lambdas against the smallest lambda_http + axum function
# (infra/bench/hello-lambda), all under one Lambda Runtime API emulator (coldstart.py):
# time to the first `GET …/invocation/next` and to the first response (`GET /healthz`,
# which needs no network), medians of alternating runs, and each binary's size.
#
#   infra/bench/coldstart.sh [runs]      (default 30; release x86_64 builds of the five)
#   BENCH_BIN_DIR=dir infra/bench/coldstart.sh   (binaries built elsewhere, e.g. an older
#                                                 commit's target/release: no build)
#
# The functions start as in production (template.yaml's variables for each), with AWS
# pointed at a port where nothing listens and fake credentials: nothing may be reached at
# cold start, so nothing is.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
RUNS="${1:-30}"
FUNCTIONS=(deployments lifecycle git github-webhook bootstraps)

BIN="${BENCH_BIN_DIR:-}"
if [[ -z "$BIN" ]]; then
    # Two builds: one with the functions would unify hello's dependency features with
    # theirs and make the baseline bigger than the smallest function it stands for.
    cargo build --release --quiet -p hello-lambda
    cargo build --release --quiet -p deployments-fn -p lifecycle-fn -p git-fn -p github-webhook-fn \
        -p bootstraps-fn
    BIN="$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
fi

ENV_FILE="$(mktemp)"
trap 'rm -f "$ENV_FILE"' EXIT
NOWHERE="http://127.0.0.1:9"
cat >"$ENV_FILE" <<VARS
RUST_LOG=info
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=AKIDBENCHMARK
AWS_SECRET_ACCESS_KEY=benchmark-secret
AWS_SESSION_TOKEN=benchmark-session
AWS_ENDPOINT_URL=$NOWHERE
AXHUB_TABLE=axhub-bench
AXHUB_CURSOR_SECRET=cursor-secret-of-at-least-32-bytes!
AXHUB_JWKS_URL=$NOWHERE/.well-known/jwks.json
AXHUB_JWT_ALGORITHM=RS256
AXHUB_JWT_ISSUER=https://auth.axhub.example
AXHUB_JWT_AUDIENCE=axhub-deploy
AXHUB_DEPLOY_QUEUE_URL=$NOWHERE/123456789012/deploy
AXHUB_BOOTSTRAP_QUEUE_URL=$NOWHERE/123456789012/bootstrap
AXHUB_TEMPLATE_CATALOG={"repository":"acme/templates","ref":"main","items":[]}
AXHUB_EVENT_BUS=axhub-bench-deploy
AXHUB_REGISTRY=123456789012.dkr.ecr.us-east-1.amazonaws.com/axhub
AXHUB_EKS_CLUSTER=apps
AXHUB_EKS_ENDPOINT=https://127.0.0.1:9
AXHUB_EKS_CA_DATA=$(base64 -w0 tests/fixtures/eks-ca.pem)
AXHUB_EKS_CLUSTER_CIDRS=10.0.0.0/16
AXHUB_EKS_INGRESS_NAMESPACE=ingress-nginx
AXHUB_GITHUB_APP_ID=123456
AXHUB_GITHUB_APP_SLUG=axhub-bench
AXHUB_GITHUB_PRIVATE_KEY=$(awk '{printf "%s\\n", $0}' tests/fixtures/rsa.pem)
AXHUB_GITHUB_CLIENT_ID=Iv1.bench
AXHUB_GITHUB_CLIENT_SECRET=bench-client-secret
AXHUB_GITHUB_WEBHOOK_SECRET=bench-webhook-secret
AXHUB_GITHUB_TOKEN_KEY=$(printf '%064d' 0)
AXHUB_APP_DB_URL=postgres://axhub@127.0.0.1:9/apps
VARS

ARGS=("hello=$BIN/hello-lambda")
for f in "${FUNCTIONS[@]}"; do ARGS+=("$f=$BIN/$f"); done
python3 infra/bench/coldstart.py --runs "$RUNS" --env-file "$ENV_FILE" "${ARGS[@]}"
