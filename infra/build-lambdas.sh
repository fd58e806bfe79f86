#!/usr/bin/env bash
# Builds every function the way `sam build` does (template.yaml's BuildMethod
# rust-cargolambda): `cargo lambda build --release --arm64`, zig as the aarch64 linker. One
# invocation for all functions, so the dependencies compile once. Leaves each bootstrap in
# <target dir>/lambda/<binary>/bootstrap and prints their sizes.
#
# Installs cargo-lambda and ziglang (PyPI) into target/lambda-venv (or $LAMBDA_VENV) and the Rust aarch64
# target with rustup. CI runs this before infra/test.sh; cold, it is the longest step (see
# README, Performance).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

VENV="${LAMBDA_VENV:-$REPO/target/lambda-venv}"
if [[ ! -x "$VENV/bin/cargo-lambda" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        'cargo-lambda==1.9.*' 'ziglang==0.17.*'
fi
rustup target add aarch64-unknown-linux-gnu >/dev/null
# cargo-lambda finds zig through the ziglang package of the Python on PATH.
export PATH="$VENV/bin:$PATH"

# The function crates, as template.yaml names their binaries.
FUNCTIONS=(deployments-fn lifecycle-fn git-fn github-webhook-fn deploy-worker-fn maintenance-fn events-ingest-fn
    bootstraps-fn bootstrap-worker-fn)
ARGS=()
for f in "${FUNCTIONS[@]}"; do ARGS+=(-p "$f"); done

start=$SECONDS
cargo lambda build --release --arm64 "${ARGS[@]}"
echo "build-lambdas.sh: built in $((SECONDS - start)) s"

# What SAM uploads: an aarch64 ELF `bootstrap` per binary (e_machine 183 is AArch64).
TARGET="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
for name in deployments lifecycle git github-webhook deploy-worker maintenance events-ingest \
    bootstraps bootstrap-worker; do
    python3 - "$TARGET/lambda/$name/bootstrap" <<'PY'
import os, struct, sys
path = sys.argv[1]
with open(path, "rb") as f:
    head = f.read(20)
if head[:4] != b"\x7fELF" or struct.unpack_from("<H", head, 18)[0] != 183:
    sys.exit(f"build-lambdas.sh: {path} is not an aarch64 ELF binary")
print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB")
PY
done
