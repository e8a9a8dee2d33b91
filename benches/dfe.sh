#!/usr/bin/env bash
# DfE CSC API: `caregate send dfe-csc-api` of CHILDREN children (one a line, from the pack's valid example, each
# with its own la_child_id and name) through the stand-in (`caregate dfe-double`) with faults on — every
# fifth request a 429 (Retry-After: 0), a 500, or an answer lost after the batch was stored, in turn — then a
# delta run of the same extract (every child unchanged). Prints the send report's timing: wall time, time
# waiting on the stand-in (requests and answers, the token's included), time waiting between retries, and the
# share left, which is the sender's own work (reading, validating, the outbox, the audit chain). Baseline in the
# same run: the delta run, which does all of the sender's own work but the sending.
#
#   bash benches/dfe.sh [CHILDREN=10000] [RUNS=3] [LATENCY_MS=50]
#
# LATENCY_MS is how long the stand-in takes to answer each batch, as DfE far away does (0: the stand-in on the
# same machine answers as fast as it can, and its own checking of every child competes with the sender for
# the same cores).
#
# CAREGATE=path/to/caregate measures that binary instead of building the release one. Needs python3 (to write
# the extract) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
children=${1:-10000}
runs=${2:-3}
latency=${3:-50}
work=target/bench-dfe
mkdir -p "$work"
bin=${CAREGATE:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-target}/release/caregate
fi
python3 - "$children" "$work/extract.jsonl" <<'PY'
import json, sys
count, path = int(sys.argv[1]), sys.argv[2]
child = json.load(open("schemas/dfe-csc-api/1.0.1/examples/valid/child.json"))
with open(path, "w") as out:
    for i in range(count):
        child["la_child_id"] = f"C{i}"
        child["child_details"]["first_name"] = f"Name{i}"
        out.write(json.dumps(child) + "\n")
PY
echo caregate-test-secret > "$work/secret"
echo caregate-test-supplier > "$work/key"
for run in $(seq 1 "$runs"); do
  "$bin" dfe-double --listen 127.0.0.1:0 --retry-after 0 --latency-ms "$latency" --cycle --faults ok,ok,ok,ok,429,ok,ok,ok,ok,500,ok,ok,ok,ok,lost \
    > "$work/double.out" 2>/dev/null &
  double=$!
  trap 'kill $double 2>/dev/null || true' EXIT
  for _ in $(seq 1 50); do grep -q listening "$work/double.out" 2>/dev/null && break; sleep 0.1; done
  address=$(sed -n 's/.*http:\/\///p' "$work/double.out" | head -1)
  rm -rf "$work/data"
  cat > "$work/caregate.toml" <<TOML
[store]
data = "$work/data"

[outbound.dfe-csc-api]
la_code = 201
endpoint = "http://$address/children-in-social-care-data-receiver/1"
token_url = "http://$address/oauth2/v2.0/token"
client_id = "caregate-test"
client_secret_file = "$work/secret"
supplier_key_file = "$work/key"
base_delay_ms = 1
max_delay_ms = 10
TOML
  for kind in send delta; do
    "$bin" send dfe-csc-api --config "$work/caregate.toml" --format json "$work/extract.jsonl" > "$work/$kind.json"
    python3 - "$kind" "$run" "$work/$kind.json" <<'PY'
import json, sys
kind, run, path = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(path))
t = r["timing"]
own = t["wall_ms"] - t["network_ms"] - t["backoff_ms"]
print(f"run {run} {kind:5}: sent {r['sent']:6} unchanged {r['unchanged']:6} batches {r['batches']:4} retries {r['retries']:3} "
      f"wall {t['wall_ms']/1000:7.3f} s (intake {t['intake_ms']/1000:6.3f} s) network {t['network_ms']/1000:7.3f} s backoff {t['backoff_ms']/1000:6.3f} s "
      f"own work {own/1000:7.3f} s = {100*own/max(t['wall_ms'],1):5.1f} % of wall")
PY
  done
  kill $double 2>/dev/null || true
  wait $double 2>/dev/null || true
done
