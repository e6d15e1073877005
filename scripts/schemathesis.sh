#!/usr/bin/env bash
# Runs schemathesis (from PyPI, into a virtual environment of its own under target/) against a
# fresh `saldo serve` holding a sandbox connection and a manual account, with a read-write
# bearer token. Fails on any 5xx and on any answer the OpenAPI document does not allow (status,
# content type, headers, body schema). Revoking tokens is left out: the run would revoke its own.
# Usage: scripts/schemathesis.sh [examples per operation]
set -euo pipefail
cd "$(dirname "$0")/.."

examples=${1:-25}
venv=target/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
fi

cargo build --locked --quiet -p saldo
saldo=$PWD/target/debug/saldo
dir=$(mktemp -d)
export HOME=$dir SALDO_DATA_DIR=$dir/data
"$saldo" account add --name Cash --kind cash --currency EUR --value 100 >/dev/null
"$saldo" connect sandbox-bank --yes >/dev/null
token=$("$saldo" token create schemathesis --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$saldo" serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("saldo serve did not answer")
PY

"$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --exclude-operation-id revoke_token \
  --max-examples "$examples" \
  --generation-deterministic \
  --workers 1
