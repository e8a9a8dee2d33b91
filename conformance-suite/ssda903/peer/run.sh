#!/usr/bin/env bash
# Runs the peer SSDA903 validator (Data to Insight's csc-validator-be-903 0.1.17, installed once in a venv)
# on a return and, given caregate, compares the two rule by rule.
#
#   bash conformance-suite/ssda903/peer/run.sh [OPTIONS] YEAR LA_CODE FILE...
#
#   YEAR      2025-26 or 2026-27 (or the peer's collection year, 2026 or 2027)
#   LA_CODE   the council's code, e.g. E09000027 (the placement-LA rules compare with it)
#   FILE...   the return: its CSV tables (each known by its header row) or one XML file
# Options:
#   --caregate BIN          also run `BIN validate --standard ssda903@YEAR --param la_code=LA_CODE --format json
#                           FILE...` and compare (default: $CAREGATE_BIN, when set)
#   --caregate-report JSON  compare with this caregate JSON report instead of running caregate
#   --caregate-arg ARG      one more argument for caregate validate (repeatable)
#   --prev FILE             last year's CSV table (repeatable)
#   --ofsted-ch XLSX, --ofsted-scp XLSX   Ofsted's provider lists (else the peer skips its URN rules)
#   --postcodes CSV         pcd,oseast1m,osnrth1m,laua in place of the peer's bundled ONS directory; caregate
#                           is given it too (--reference postcodes=CSV)
#   --caregate-postcodes CSV  give caregate this directory, the peer keeping its bundled one (postcodes_csv.py
#                           writes the bundled one as such a CSV); without either, caregate's postcode rules
#                           are not run
#   --out DIR               where to write (default reports)
#   --write-postcodes CSV   only install the peer and write its bundled postcode directory as CSV (postcodes_csv.py),
#                           unless CSV exists; no YEAR, LA_CODE or FILE
#   --min-agreement X       exit 1 when the agreement on flagged (rule, CHILD) pairs is below X (default 0), over
#                           the rules whose differences the year's peer-differences.md does not decide
#   --written-only          compare only the rules caregate's pack for YEAR has written (its rules.toml)
# Writes DIR/ssda903-peer.json (run_peer.py's output, summed up on stdout); with caregate also
# DIR/ssda903-caregate.json and DIR/ssda903-peer-agreement.{json,md} (compare.py).
# The venv is target/ssda903-peer-venv ($CAREGATE_SSDA903_PEER_VENV); it needs Python 3.9 or later
# ($PYTHON, else python3) for the peer, which pins pandas before 2 and numpy before 1.25.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

bin=${CAREGATE_BIN:-}
report=""
out=reports
min=0
peer_opts=()
caregate_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --caregate) bin=$2; shift 2 ;;
    --caregate-report) report=$2; shift 2 ;;
    --caregate-arg) caregate_opts+=("$2"); shift 2 ;;
    --prev) peer_opts+=(--prev "$2"); shift 2 ;;
    --postcodes) peer_opts+=("$1" "$2"); caregate_opts+=(--reference "postcodes=$2"); shift 2 ;;
    --caregate-postcodes) caregate_opts+=(--reference "postcodes=$2"); shift 2 ;;
    --ofsted-ch|--ofsted-scp) peer_opts+=("$1" "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --write-postcodes) write_postcodes=$2; shift 2 ;;
    --min-agreement) min=$2; shift 2 ;;
    --written-only) written=1; shift ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
venv=${CAREGATE_SSDA903_PEER_VENV:-$root/target/ssda903-peer-venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import lac_validator.datastore" 2>/dev/null; then
  python=${PYTHON:-python3}
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
    echo "run.sh: the peer needs Python 3.9 or later; $python is $("$python" --version 2>&1) (set PYTHON)" >&2
    exit 2
  fi
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet csc-validator-be-903==0.1.17 pandas==1.5.3 numpy==1.24.4
fi
if [ -n "${write_postcodes:-}" ]; then
  if [ ! -s "$write_postcodes" ]; then
    "$venv/bin/python" "$here/postcodes_csv.py" "$write_postcodes"
  fi
  exit 0
fi

if [ $# -lt 3 ]; then
  echo "usage: run.sh [OPTIONS] YEAR LA_CODE FILE... (see --help)" >&2
  exit 2
fi
year=$1 la=$2
shift 2
# caregate names the ruleset 2025-26; the peer takes either spelling (run_peer.py turns 2025-26 into 2026).
case "$year" in
  [0-9][0-9][0-9][0-9]) standard_version="$((year - 1))-${year:2:2}" ;;
  *) standard_version=$year ;;
esac


mkdir -p "$out"
# The peer runs in its own temporary folder (run_peer.py), so the files' paths are made absolute there.
"$venv/bin/python" "$here/run_peer.py" --year "$year" --la-code "$la" ${peer_opts[@]+"${peer_opts[@]}"} \
  --out "$out/ssda903-peer.json" "$@"
"$venv/bin/python" - "$out/ssda903-peer.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"peer {d['peer']['version']}, collection year {d['collection_year']}, {d['la_code']}: "
      f"{len(d['ran'])} rules ran, {len(d['skipped'])} skipped, {len(d['crashed'])} crashed; "
      f"{len(d['findings'])} (rule, CHILD) pairs; {d['wall_time_s']['total']} s, peak {d['peak_rss_mb']} MB")
for code, error in d["crashed"].items():
    print(f"  crashed {code}: {error}")
EOF
echo "peer: $out/ssda903-peer.json"

if [ -z "$report" ] && [ -n "$bin" ]; then
  report="$out/ssda903-caregate.json"
  status=0
  "$bin" validate --standard "ssda903@$standard_version" --param "la_code=$la" --format json \
    ${caregate_opts[@]+"${caregate_opts[@]}"} "$@" >"$report" || status=$?
  # 0: valid, 1: findings of severity error; 2 or more: caregate could not run.
  if [ "$status" -gt 1 ]; then
    echo "run.sh: caregate validate failed (exit $status); see $report" >&2
    exit 2
  fi
fi
if [ -n "$report" ]; then
  compare_opts=()
  if [ -n "${written:-}" ]; then
    compare_opts=(--rules-toml "$root/schemas/ssda903/$standard_version/rules.toml")
  fi
  differences="$root/conformance-suite/ssda903/$standard_version/peer-differences.md"
  if [ -f "$differences" ]; then
    compare_opts+=(--documented "$differences")
  fi
  python3 "$here/compare.py" --peer "$out/ssda903-peer.json" --caregate "$report" ${compare_opts[@]+"${compare_opts[@]}"} \
    --out-json "$out/ssda903-peer-agreement.json" --out-md "$out/ssda903-peer-agreement.md" --min-agreement "$min"
  echo "agreement: $out/ssda903-peer-agreement.md"
fi
