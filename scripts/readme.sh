#!/usr/bin/env bash
# Runs the commands README.md shows, as written, the way a newcomer would after `cargo install --path .`:
# the `caregate` just built first on the PATH, in a scratch folder holding the repository's files.
#
#   bash scripts/readme.sh [CAREGATE_BIN=target/debug/caregate]
#
# What it runs, in the order the README shows them:
# - every ```bash block (the gateway walk-through: `caregate serve &`, then curl and jq against it);
# - every inline `caregate …` command that names no placeholder (no `[`, `|`, `…` or upper-case word such
#   as FILE or N), which must succeed: exit status 0 (for `caregate validate`, 1 too: error findings).
# The two commands at the top (`cargo run --release -- serve`, `cargo test`) are what CI itself runs, and the
# `bash …` scripts the README names have CI steps of their own.
#
# Needs: curl and jq (Debian: curl, jq).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-${CAREGATE_BIN:-target/debug/caregate}}")
for tool in curl jq python3; do
  command -v "$tool" >/dev/null || { echo "scripts/readme.sh needs $tool (apt-get install -y curl jq)" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "scripts/readme.sh: no caregate at $bin (cargo build first)" >&2; exit 2; }

scratch=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$scratch"' EXIT
cp -r schemas conformance-suite "$scratch"/
# The XSDs the README imports as examples.
mkdir -p "$scratch/tests/engine" && cp -r tests/engine/xsd_import "$scratch/tests/engine/"
mkdir -p "$scratch/bin" "$scratch/reports"
ln -s "$bin" "$scratch/bin/caregate"

# The README's commands, one per line as `kind<TAB>text` (blocks joined with `\x1f` for newlines).
python3 - README.md >"$scratch/commands.tsv" <<'PY'
import re, sys

text = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
for block in blocks:
    print("block\t" + block.replace("\n", "\x1f"))
prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
for span in re.findall(r"`(caregate [^`]+)`", prose):
    if re.search(r"[\[|…]|\b[A-Z]+\b|\bserve\b", span):
        continue
    print("inline\t" + span)
PY

cd "$scratch"
export PATH="$scratch/bin:$PATH"
failed=0
count=0
while IFS=$'\t' read -r kind command; do
  count=$((count + 1))
  if [ "$kind" = block ]; then
    script=${command//$'\x1f'/$'\n'}
    echo "== README block $count"
    # A block runs as a user pastes it: each command in turn, and it fails at the first command that fails.
    if ! bash -euo pipefail -c "$script" >"block-$count.log" 2>&1; then
      echo "the README's block $count failed:" >&2
      cat "block-$count.log" >&2
      failed=1
    fi
    # A background gateway started by the block ends with it.
    pkill -f '^caregate serve' 2>/dev/null || true
    sleep 0.5
  else
    echo "== $command"
    status=0
    bash -c "$command" >/dev/null 2>"inline-$count.err" || status=$?
    allowed=0
    [[ "$command" == "caregate validate "* ]] && allowed=1
    if [ "$status" -gt "$allowed" ]; then
      echo "\`$command\` exited $status:" >&2
      cat "inline-$count.err" >&2
      failed=1
    fi
  fi
done <commands.tsv
[ "$count" -gt 0 ] || { echo "scripts/readme.sh found no command in README.md" >&2; exit 1; }
echo "README: $count commands run, $([ "$failed" = 0 ] && echo "all as written" || echo "some failed")"
exit "$failed"
