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
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q selenium
fi

work=target/console-check
rm -rf "$work"
mkdir -p "$work"
"$caregate" console export "$work/site"
"$venv/bin/python" -B scripts/console_browser.py "$caregate" "$work/site" "$work"
