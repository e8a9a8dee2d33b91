#!/usr/bin/env bash
# Installs the peer CIN validator in a virtual environment (once) and runs the differential harness.
#   bash conformance-suite/cin-census/peer/run.sh [SEEDS=20] [CHILDREN=2000] [MIN_AGREEMENT=0]
# Writes reports/peer/<timestamp>/{summary.md,agreement.json,disagreements.csv}.
set -euo pipefail
cd "$(dirname "$0")/../../.."
seeds=${1:-20}
children=${2:-2000}
min=${3:-0}
venv=${CAREGATE_PEER_VENV:-target/peer-venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import cin_validator, pytest" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet csc-validator-be-cin==0.1.13 pandas==1.5.3 numpy==1.24.4 pytest
fi
bin=${CAREGATE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=target/release/caregate
fi
out="reports/peer/$(date -u +%Y%m%dT%H%M%SZ)"
python3 conformance-suite/cin-census/peer/compare.py --caregate "$bin" --peer-python "$venv/bin/python" \
  --out "$out" --seeds "$seeds" --children "$children" --min-agreement "$min"
echo "report: $out/summary.md"
