#!/usr/bin/env bash
# The console in a real browser: exports the site with the caregate given (built with the engine's module:
# run scripts/build-wasm.sh before building it), then drives Debian's headless Chromium with Selenium (in a
# venv under target/) through scripts/console_browser.py: the static site's counts against the CLI's, no
# request outside the site, the page at `/` on `caregate serve`, and the gateway console's dead-letter replay.
# Usage: bash scripts/console-check.sh [CAREGATE_BIN]   (installs chromium and chromium-driver with apt-get if
# missing and apt-get is there)
set -euo pipefail
cd "$(dirname "$0")/.."
caregate=${1:-target/debug/caregate}

if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
  else
    echo "console-check: needs /usr/bin/chromium and /usr/bin/chromedriver (Debian: chromium chromium-driver)" >&2
    exit 2
  fi
fi
venv=target/browser-venv
selenium=4.51.0
if [[ ! -x $venv/bin/python ]] ||
  [[ $("$venv/bin/python" -c 'import selenium; print(selenium.__version__)' 2>/dev/null) != "$selenium" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "selenium==$selenium"
fi

work=target/console-check
rm -rf "$work"
mkdir -p "$work"
"$caregate" console export "$work/site"

# The module under Node.js too, where there is one: the same report as the CLI's, byte for byte.
if command -v node >/dev/null 2>&1; then
  "$caregate" generate cin-census --count 300 --seed 7 --profile messy --output "$work/node-cin.xml" 2>/dev/null
  now=2026-11-20T09:30:00Z
  "$caregate" validate --now "$now" --format json --output "$work/node-cli.json" "$work/node-cin.xml" 2>/dev/null || true
  node scripts/wasm_node_check.js "$work/site/caregate.wasm" "$now" "$work/node-wasm.json" "$work/node-cin.xml"
  cmp "$work/node-cli.json" "$work/node-wasm.json"
  echo "ok   Node.js: the module's report is the CLI's, byte for byte"
fi
"$venv/bin/python" -B scripts/console_browser.py "$caregate" "$work/site" "$work"
