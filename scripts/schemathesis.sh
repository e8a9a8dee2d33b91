#!/usr/bin/env bash
# The gateway against its own OpenAPI document, with schemathesis (PyPI): every operation of /openapi.json is
# called with generated requests, with an organisation's token and then the admin's, and no answer may be a
# server error or break the document's response schemas.
#   bash scripts/schemathesis.sh
# CAREGATE_BIN: the binary to serve (default: `cargo build`, then target/debug/caregate).
# SCHEMATHESIS_MAX_EXAMPLES (default 100) and SCHEMATHESIS_SEED (default fixed, so that CI is reproducible; set
# another to explore) bound and steer the run. Installs schemathesis once, in a venv under target/.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
venv=$(realpath -m "${CAREGATE_SCHEMATHESIS_VENV:-target/schemathesis-venv}")
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
seed=${SCHEMATHESIS_SEED:-20250101}

bin=${CAREGATE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet
  bin=target/debug/caregate
fi
if [ ! -x "$venv/bin/st" ] || [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" != "$version" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

data=$(mktemp -d)
server=
stop() {
  if [ -n "$server" ] && kill "$server" 2>/dev/null; then
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap stop EXIT

# Port 0: the gateway picks a free port and prints it on its first line. The files exist before it starts, so
# that reading them never races the redirection.
: >"$data/serve.out"
: >"$data/serve.err"
"$bin" serve --listen 127.0.0.1:0 --data "$data/store" >"$data/serve.out" 2>"$data/serve.err" &
server=$!
base=
for _ in $(seq 1 300); do
  base=$(sed -n 's/^caregate gateway listening on \(http:[^ ]*\)$/\1/p' "$data/serve.out")
  [ -n "$base" ] && [ -s "$data/store/demo-tokens.json" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "schemathesis: the gateway did not start:" >&2
    cat "$data/serve.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "schemathesis: the gateway printed no address in 30 s" >&2
  exit 1
fi
token() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$data/store/demo-tokens.json" "$1"
}

status=0
for who in 201 admin; do
  echo "schemathesis: $base/openapi.json as $who (at most $max_examples examples an operation, seed $seed)"
  # From the temporary folder, where schemathesis leaves its cache.
  (cd "$data" && "$venv/bin/st" run "$base/openapi.json" \
    --header "Authorization: Bearer $(token "$who")" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --workers 2 \
    --request-timeout 30 \
    --generation-database none \
    --no-color) || status=1
done
if [ "$status" -ne 0 ]; then
  echo "schemathesis: failures above; the gateway's log follows" >&2
  tail -n 50 "$data/serve.err" >&2
fi
exit "$status"
