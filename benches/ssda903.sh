#!/usr/bin/env bash
# SSDA903 (children looked after) returns as CSV tables: whole-process validation by caregate beside the peer
# validator (Data to Insight's csc-validator-be-903 0.1.17, all its rules in one run, as a council runs it),
# measured in the same run, on a clean return and a messy one (a first submission's mistakes) of the same
# children, both made by `caregate generate ssda903` with their postcodes drawn from the directory; then
# caregate's peak memory on a large return. caregate runs with the whole ONS Postcode Directory loaded
# (`--reference postcodes=…`, as the peer loads its own), and once more without it, as the same-run baseline
# of what loading the directory costs.
#
#   bash benches/ssda903.sh [CHILDREN=2700] [RUNS=5] [BIG_CHILDREN=27000]
#
# CAREGATE=path/to/caregate measures that binary instead of building the release one. Needs hyperfine and
# GNU time (Debian: hyperfine, time); the peer is installed in target/ssda903-peer-venv on first use
# (conformance-suite/ssda903/peer/run.sh). The peer is run 3 times; caregate RUNS times. POSTCODES=FILE gives the
# directory as the ONS CSV or as the index `caregate reference index postcodes` writes; by default the peer's
# bundled one is written as the ONS CSV (postcodes_csv.py), once.
set -euo pipefail
cd "$(dirname "$0")/.."
children=${1:-2700}
runs=${2:-5}
big=${3:-27000}
work=target/bench-ssda903
mkdir -p "$work"
bin=${CAREGATE:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-target}/release/caregate
fi
venv=${CAREGATE_SSDA903_PEER_VENV:-target/ssda903-peer-venv}
if [ ! -x "$venv/bin/python" ]; then
  # The harness installs the peer; a run on an empty return is enough for it to do so.
  mkdir -p "$work/empty" && printf 'CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n' >"$work/empty/header.csv"
  bash conformance-suite/ssda903/peer/run.sh --out "$work/empty" 2025-26 E09000027 "$work/empty/header.csv" >/dev/null
fi
postcodes=${POSTCODES:-$work/onspd-peer.csv}
if [ ! -s "$postcodes" ]; then
  "$venv/bin/python" conformance-suite/ssda903/peer/postcodes_csv.py "$postcodes"
fi
case "$postcodes" in
  *.csv) echo "postcode directory: $postcodes, $(($(wc -l <"$postcodes") - 1)) postcodes, $(du -h "$postcodes" | cut -f1)" ;;
  *) echo "postcode directory: $postcodes (an index written by caregate reference index), $(du -h "$postcodes" | cut -f1)" ;;
esac
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -srm); load $(cut -d' ' -f1-3 /proc/loadavg)"

peak() { # peak resident memory of a command, in MiB
  /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f", $1 / 1024}'
}

for profile in clean messy; do
  dir="$work/$profile-$children"
  rm -rf "$dir"
  $bin generate ssda903@2025-26 --count "$children" --seed 2026 --profile "$profile" --param la_code=E09000027 \
    --reference "postcodes=$postcodes" --output "$dir" 2>/dev/null
  files=("$dir"/*.csv)
  echo
  echo "== $profile return: $children children, $(du -sh "$dir" | cut -f1) in ${#files[@]} tables"
  ours=(validate --standard ssda903@2025-26 --param la_code=E09000027 --reference "postcodes=$postcodes" --format json
    -o "$work/$profile.json")
  bare=(validate --standard ssda903@2025-26 --param la_code=E09000027 --format json -o "$work/$profile.bare.json")
  $bin "${ours[@]}" "${files[@]}" 2>/dev/null || true
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('caregate findings:', sum(len(d['findings']) for d in r['documents']))" "$work/$profile.json"
  peer=("$venv/bin/python" conformance-suite/ssda903/peer/run_peer.py --year 2025-26 --la-code E09000027 --out "$work/$profile.peer.json")
  hyperfine -N --style basic --warmup 1 --runs "$runs" --export-json "$work/$profile.caregate.hyperfine.json" \
    -i "$bin ${ours[*]} ${files[*]}" "$bin ${bare[*]} ${files[*]}" >/dev/null
  hyperfine -N --style basic --runs 3 --export-json "$work/$profile.peer.hyperfine.json" \
    -i "${peer[*]} ${files[*]}" >/dev/null
  python3 - "$work/$profile.caregate.hyperfine.json" "$work/$profile.peer.hyperfine.json" <<'PY'
import json, sys
(ours, bare), theirs = ([r["median"] for r in json.load(open(p))["results"]] for p in sys.argv[1:3])
print(f"median: caregate {ours:.3f} s (without the directory {bare:.3f} s), peer {theirs[0]:.2f} s, "
      f"ratio {theirs[0] / ours:.0f}x")
PY
  echo "peak memory: caregate $(peak $bin "${ours[@]}" "${files[@]}") MiB (without the directory" \
    "$(peak $bin "${bare[@]}" "${files[@]}") MiB), peer $(peak "${peer[@]}" "${files[@]}") MiB"
done

if [ "$big" -gt 0 ]; then
  dir="$work/messy-$big"
  rm -rf "$dir"
  $bin generate ssda903@2025-26 --count "$big" --seed 7 --profile messy --param la_code=E09000027 \
    --reference "postcodes=$postcodes" --output "$dir" 2>/dev/null
  echo
  echo "== messy return of $big children, $(du -sh "$dir" | cut -f1)"
  /usr/bin/time -f 'caregate with the directory: %e s, peak %M KiB' $bin validate --standard ssda903@2025-26 \
    --param la_code=E09000027 --reference "postcodes=$postcodes" --format json -o "$work/big.json" "$dir"/*.csv 2>&1 |
    tail -1 || true
  /usr/bin/time -f 'caregate without it: %e s, peak %M KiB' $bin validate --standard ssda903@2025-26 \
    --param la_code=E09000027 --format json -o "$work/big.bare.json" "$dir"/*.csv 2>&1 | tail -1 || true
fi
