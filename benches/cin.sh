#!/usr/bin/env bash
# CIN census: whole-process validation of a generated return beside the peer validator and libxml2's
# structure-only check, measured in the same run; peak memory at 10,000 children and on a ~1 GB return.
#
#   bash benches/cin.sh [CHILDREN=10000] [RUNS=5] [BIG_CHILDREN=0]
#
# Needs: hyperfine and GNU time (Debian: hyperfine, time), xmllint (libxml2-utils); the peer is installed in
# a virtual environment under target/peer-venv on first use (csc-validator-be-cin 0.1.13, as
# conformance-suite/cin-census/peer documents). BIG_CHILDREN=800000 makes a ~1 GB return for the memory check.
set -euo pipefail
cd "$(dirname "$0")/.."
children=${1:-10000}
runs=${2:-5}
big=${3:-0}
work=target/bench-cin
mkdir -p "$work"
cargo build --release --quiet
bin=target/release/caregate
return="$work/return-$children.xml"
xsd="$work/cin-census.xsd"
$bin generate cin-census --count "$children" --seed 2026 --invalid-rate 0.05 --output "$return" >/dev/null
$bin standards export cin-census --as xsd --output "$xsd"
echo "return: $return ($(du -h "$return" | cut -f1), $children children)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -srm)"

venv=target/peer-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet csc-validator-be-cin==0.1.13 pandas==1.5.3 numpy==1.24.4 pytest
fi

peer_runs=$(( runs < 3 ? runs : 3 ))
hyperfine --warmup 1 --runs "$runs" --ignore-failure --export-json "$work/fast.json" \
  -n caregate "$bin validate --format json --output $work/caregate.json $return" \
  -n "xmllint --schema" "xmllint --noout --schema $xsd $return"
hyperfine --runs "$peer_runs" --ignore-failure --export-json "$work/peer.json" \
  -n peer "$venv/bin/python -m cin_validator run $return -r cin2025_26"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
rows = {r["command"]: r for f in ("fast.json", "peer.json") for r in json.load(open(f"{work}/{f}"))["results"]}
med = {k: v["median"] for k, v in rows.items()}
print("\nmedian whole-process time (s):")
for k, v in med.items():
    print(f"  {k:<18} {v:8.3f}")
print(f"  peer / caregate            = {med['peer'] / med['caregate']:.0f}x")
print(f"  xmllint / caregate         = {med['xmllint --schema'] / med['caregate']:.2f}x")
PY
echo
echo "peak memory (maximum resident set size):"
for cmd in "$bin validate --format json --output $work/caregate.json $return" "xmllint --noout --schema $xsd $return"; do
  kb=$( { /usr/bin/time -v $cmd >/dev/null 2>"$work/time.txt" || true; } ; awk -F': ' '/Maximum resident/ {print $2}' "$work/time.txt")
  echo "  $(echo "$cmd" | cut -d' ' -f1-2): $((kb / 1024)) MiB"
done
if [ "$big" -gt 0 ]; then
  bigreturn="$work/return-$big.xml"
  [ -f "$bigreturn" ] || $bin generate cin-census --count "$big" --seed 7 --invalid-rate 0.01 --output "$bigreturn" >/dev/null
  echo "big return: $(du -h "$bigreturn" | cut -f1)"
  /usr/bin/time -v $bin validate --format json --output "$work/big.json" "$bigreturn" >/dev/null 2>"$work/time-big.txt" || true
  awk -F': ' '/Maximum resident/ {printf "  caregate on the big return: %d MiB\n", $2/1024} /Elapsed/ {print "  elapsed: " $2}' "$work/time-big.txt"
fi
