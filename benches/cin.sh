#!/usr/bin/env bash
# CIN census: whole-process validation of a clean and a messy return side by side, each beside libxml2's
# structure-only check and the peer validator, measured in the same run; then big messy returns, as generated
# and minified onto one line, for throughput and peak memory. Prints a table for BENCHMARKS.md.
#
#   bash benches/cin.sh [CHILDREN=10000] [RUNS=5] [BIG_CHILDREN=0] [HUGE_CHILDREN=0]
#   CIN_BENCH_PEER=0 bash benches/cin.sh …      # without the peer (minutes a run)
#   CIN_BENCH_MEMORY_GIB=12                       # address space allowed to each single run (xmllint ~8× the file)
#   CIN_BENCH_BIG_XMLLINT=1                       # xmllint on the big returns too (a messy 300 MB one: over 6 min)
#   CAREGATE_BIN=PATH                             # measure this caregate instead of building one
#
# The clean return is the one earlier figures were measured on (seed 2026, 5 % of children with one deliberate
# fault); the messy one holds the same children with a first submission's mistakes (`--profile messy`, about
# two findings a child). BIG_CHILDREN=200000 makes a ~300 MB messy return, HUGE_CHILDREN=800000 a ~1.2 GB one;
# each is also validated minified (`tr -d '\n\r'`), which must give caregate the same number of findings.
#
# Needs: hyperfine and GNU time (Debian: hyperfine, time), xmllint (libxml2-utils); the peer is installed in
# a virtual environment under target/peer-venv on first use (csc-validator-be-cin 0.1.13, as
# conformance-suite/cin-census/peer documents).
set -euo pipefail
cd "$(dirname "$0")/.."
children=${1:-10000}
runs=${2:-5}
big=${3:-0}
huge=${4:-0}
peer=${CIN_BENCH_PEER:-1}
for tool in hyperfine xmllint /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "benches/cin.sh needs $tool (apt-get install -y hyperfine libxml2-utils time)" >&2; exit 2; }
done
work=target/bench-cin
mkdir -p "$work"
rm -f "$work"/rows.tsv "$work"/*.json
status=0
if [ -n "${CAREGATE_BIN:-}" ]; then
  bin=$CAREGATE_BIN
else
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-target}/release/caregate
fi
xsd="$work/cin-census.xsd"
$bin standards export cin-census --as xsd --output "$xsd"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -srm); load $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$peer" != 0 ]; then
  venv=target/peer-venv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet csc-validator-be-cin==0.1.13 pandas==1.5.3 numpy==1.24.4 pytest
  fi
fi

# One run under GNU time, its address space capped (CIN_BENCH_MEMORY_GIB, 12 by default) so that a run that
# outgrows it fails alone, not the machine: "peak-KiB seconds status" (the exit code, or signal-N if killed).
limit_kib=$(( ${CIN_BENCH_MEMORY_GIB:-12} * 1024 * 1024 ))
one_run() {
  /usr/bin/time -f '%M %e %x' -o "$work/time.txt" \
    bash -c 'ulimit -v "$0"; exec "$@"' "$limit_kib" "$@" >/dev/null 2>&1 || true
  local signal
  signal=$(sed -n 's/^Command terminated by signal \([0-9]*\).*/\1/p' "$work/time.txt")
  if [ -n "$signal" ]; then
    echo "$(tail -n 1 "$work/time.txt" | cut -d' ' -f1-2) signal-$signal"
  else
    tail -n 1 "$work/time.txt"
  fi
}

# "findings records" of a caregate JSON report.
findings() {
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))["documents"][0]
print(len(d["findings"]), d.get("records") or 0)' "$1"
}

# A row of the table: label, file, hyperfine JSON (or -), then caregate's and xmllint's "peak-KiB seconds".
row() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$work/rows.tsv"
}

peer_runs=$(( runs < 3 ? runs : 3 ))
for profile in clean messy; do
  return="$work/$profile-$children.xml"
  rate=0.05
  [ "$profile" = messy ] && rate=0
  $bin generate cin-census --count "$children" --seed 2026 --invalid-rate "$rate" --profile "$profile" --output "$return"
  echo "== $profile: $return ($(du -h "$return" | cut -f1), $children children)"
  report="$work/$profile-$children.json"
  hyperfine --warmup 1 --runs "$runs" --ignore-failure --export-json "$work/$profile-fast.json" \
    -n caregate "$bin validate --format json --output $report $return" \
    -n xmllint "xmllint --noout --schema $xsd $return"
  if [ "$peer" != 0 ]; then
    hyperfine --runs "$peer_runs" --ignore-failure --export-json "$work/$profile-peer.json" \
      -n peer "$venv/bin/python -m cin_validator run $return -r cin2025_26"
  fi
  ours=$(one_run "$bin" validate --format json --output "$report" "$return")
  theirs=$(one_run xmllint --noout --schema "$xsd" "$return")
  row "$profile" "$return" "$report" "$work/$profile-fast.json" "$ours" "$theirs"
done

# Big messy returns: one run each under GNU time, as generated and minified onto one line.
for count in "$big" "$huge"; do
  [ "$count" -gt 0 ] || continue
  return="$work/big-messy-$count.xml"
  flat="$work/big-messy-$count-one-line.xml"
  $bin generate cin-census --count "$count" --seed 7 --profile messy --output "$return"
  tr -d '\n\r' <"$return" >"$flat"
  echo "== big messy return: $return ($(du -h "$return" | cut -f1), $count children), and minified"
  for file in "$return" "$flat"; do
    report="${file%.xml}.json"
    rm -f "$report"
    ours=$(one_run "$bin" validate --format json --output "$report" "$file")
    theirs="0 0 skipped"
    if [ "${CIN_BENCH_BIG_XMLLINT:-0}" != 0 ]; then
      theirs=$(one_run xmllint --noout --schema "$xsd" "$file")
    fi
    label="messy, $count children"
    [ "$file" = "$flat" ] && label="$label, one line"
    row "$label" "$file" "$report" - "$ours" "$theirs"
  done
  as_generated=$(findings "${return%.xml}.json" 2>/dev/null || echo "no report")
  minified=$(findings "${flat%.xml}.json" 2>/dev/null || echo "no report")
  if [ "$as_generated" != "$minified" ]; then
    echo "the minified return is not the same document to caregate: findings and records $as_generated as generated, $minified minified" >&2
    status=1
  fi
done

echo
python3 - "$work" "$peer" <<'PY'
import json, os, sys

work, with_peer = sys.argv[1], sys.argv[2] != "0"


def medians(path):
    if path == "-" or not os.path.exists(path):
        return {}
    return {r["command"]: r["median"] for r in json.load(open(path))["results"]}


def seconds(s):
    return f"{s:.3f} s" if s < 100 else f"{s:.0f} s"


def mib(kib):
    return f"{int(kib) / 1024:.0f} MiB"


head = ["return", "size", "findings a child", "caregate", "xmllint --schema"]
head += ["peer"] if with_peer else []
head += ["xmllint ÷ caregate"] + (["peer ÷ caregate"] if with_peer else [])
head += ["caregate MB/s", "xmllint MB/s", "caregate peak", "xmllint peak"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))


def run(cell, ok):
    """(peak KiB, seconds, failure or None) of a "KiB seconds status" cell."""
    kib, secs, status = cell.split()
    return int(kib), float(secs), None if status in ok else status


def rate(mb, s):
    return "—" if s is None else f"{mb / s:.1f}" if mb / s < 10 else f"{mb / s:.0f}"


for line in open(f"{work}/rows.tsv"):
    label, path, report, timings, ours, theirs = line.rstrip("\n").split("\t")
    mb = os.path.getsize(path) / 1e6
    # caregate exits 1 on error findings; xmllint 3 or 4 on an invalid document.
    our_kib, our_s, our_failure = run(ours, {"0", "1"})
    their_kib, their_s, their_failure = run(theirs, {"0", "3", "4", "skipped"})
    skipped = theirs.endswith("skipped")
    try:
        document = json.load(open(report))["documents"][0]
        per_child = f"{len(document['findings']) / max(document.get('records') or 1, 1):.2f}"
    except (OSError, ValueError, KeyError, IndexError):
        per_child = "—"
    fast = medians(timings)
    # hyperfine's medians for the returns it timed; the single run under GNU time for the big ones.
    mine = None if our_failure else fast.get("caregate", our_s)
    xmllint = None if their_failure else fast.get("xmllint", their_s)
    peer = medians(timings.replace("-fast.json", "-peer.json")).get("peer") if timings != "-" else None
    cells = [label, f"{mb:.1f} MB", per_child]
    cells.append(f"failed ({our_failure}, {our_s:.0f} s)" if our_failure else seconds(mine))
    if skipped:
        xmllint = None
        cells.append("not run")
    else:
        cells.append(f"failed ({their_failure}, {their_s:.0f} s)" if their_failure else seconds(xmllint))
    if with_peer:
        cells.append(seconds(peer) if peer else "—")
    cells.append(f"{xmllint / mine:.2f}×" if mine and xmllint else "—")
    if with_peer:
        cells.append(f"{peer / mine:.0f}×" if peer and mine else "—")
    cells += [rate(mb, mine), rate(mb, xmllint), mib(our_kib), "—" if skipped else mib(their_kib)]
    print("| " + " | ".join(cells) + " |")
print()
print("Times: hyperfine medians for the clean and messy returns, one run under GNU time for the big ones;")
print("ratios above 1 mean caregate is faster. Peak memory: maximum resident set size by GNU time.")
PY
exit "$status"
