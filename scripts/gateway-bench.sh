#!/usr/bin/env bash
# Gateway benchmark: durable accepts per second of a 3.5 KB referral (validated, redacted for two recipients,
# committed to SQLite with synchronous=FULL before the 202), sent by wrk from a second process on loopback,
# beside a bare axum handler measured in the same run. Then p50/p99 at a constant offered rate with oha, when
# oha is installed (`cargo install oha`). Prints the figures; copy them into BENCHMARKS.md, section "Gateway".
#
#   scripts/gateway-bench.sh                 # 20 s per run, 64 connections, 5000/s and 1000/s offered
#   DURATION=10 CONNS=32 RATE=2000 scripts/gateway-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
RATE=${RATE:-5000}
LOW_RATE=${LOW_RATE:-1000}
GATEWAY=127.0.0.1:18181
BASELINE=127.0.0.1:18182

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
cargo build --release --quiet --bin caregate
CARGO_TARGET_DIR=target cargo build --release --quiet --manifest-path scripts/gateway-bench/Cargo.toml

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

token=bench-token-201
hash="sha256:$(printf %s "$token" | sha256sum | cut -d' ' -f1)"
cat > "$work/gateway.toml" <<TOML
listen = "$GATEWAY"
[store]
data = "$work/data"
[limits]
rate_per_second = 1000000000.0
burst = 1000000000.0
[[organisations]]
code = "201"
name = "Bench council"
role = "social-care"
[[organisations]]
code = "RJ1"
name = "Bench trust"
role = "health"
[[organisations]]
code = "POL01"
name = "Bench police"
role = "police"
[[senders]]
organisation = "201"
token_hash = "$hash"
standards = ["*"]
recipients = ["*"]
TOML
python3 - "$work/referral.json" <<'PY'
import json, sys
envelope = json.load(open("schemas/envelope/1.0/examples/valid/full.json"))
envelope["sender"]["organisation"] = "201"
envelope["recipients"] = [{"organisation": "RJ1", "role": "health"}, {"organisation": "POL01", "role": "police"}]
open(sys.argv[1], "w").write(json.dumps(envelope, indent=1))
PY
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$work/referral.json"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA

./target/release/caregate serve --config "$work/gateway.toml" > "$work/gateway.log" 2>&1 &
pids+=($!)
./target/release/gateway-bench-baseline "$BASELINE" > "$work/baseline.log" 2>&1 &
pids+=($!)
for address in $GATEWAY $BASELINE; do
  for _ in $(seq 100); do curl -sf "http://$address/healthz" >/dev/null && break; sleep 0.1; done
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$GATEWAY/v1/messages" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' --data-binary @"$work/referral.json")
[ "$code" = 202 ] || { echo "the gateway answered $code to the benchmark message" >&2; cat "$work/gateway.log" >&2; exit 1; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr); body $(wc -c < "$work/referral.json") bytes"
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency (closed loop: as fast as it answers)"
for target in "baseline http://$BASELINE" "gateway http://$GATEWAY"; do
  set -- $target
  echo "== $1"
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$work/post.lua" "$2/v1/messages" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors"
done
if command -v oha >/dev/null || [ -x "$HOME/.cargo/bin/oha" ]; then
  oha=$(command -v oha || echo "$HOME/.cargo/bin/oha")
  for rate in "$RATE" "$LOW_RATE"; do
    echo "oha -q $rate -z ${DURATION}s -c $CONNS (open loop: $rate/s offered)"
    for target in "baseline http://$BASELINE" "gateway http://$GATEWAY"; do
      set -- $target
      echo "== $1"
      "$oha" --no-tui -q "$rate" -z "${DURATION}s" -c "$CONNS" -m POST -H "Authorization: Bearer $token" -T application/json \
        -D "$work/referral.json" "$2/v1/messages" | grep -E "Requests/sec|Success rate|50.00%|99.00%|99.90%|\[202\]|\[4|\[5"
    done
  done
fi
stored=$(curl -s "http://$GATEWAY/metrics" | awk '/^caregate_messages_accepted_total/{print $2}')
echo "gateway accepted (metrics): $stored"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
./target/release/caregate audit verify --data "$work/data"
