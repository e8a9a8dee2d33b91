#!/usr/bin/env bash
# Fuzzes caregate's engine with cargo-fuzz (libFuzzer), each target for SECONDS seconds, one after another:
#
#   bash scripts/fuzz.sh SECONDS [TARGET...]      (all targets when none is named)
#
# Targets (tests/fuzz/fuzz_targets): xml and json (the document readers), rule (one expression of the rule
# language, compiled and evaluated), rules_toml (a pack's whole rules.toml), records (the bulk record splitter)
# bulk (a CIN census return through Validator::check_bulk) and tables (CSV tables of an SSDA903 return through
# Validator::check_tables).
#
# The corpora (tests/fuzz/corpus/TARGET) are seeded on every run from the packs' examples and the conformance
# suites, and the rule corpus from each rule of the packs paired with a record of the pack's example (python3's
# tomllib reads rules.toml). What libFuzzer adds to them is kept for the next run.
#
# Prints, per target, the inputs run and whether it failed. A failure (a panic, an input taking more than 10 s,
# more than 2 GB of memory) leaves the input in tests/fuzz/artifacts/TARGET/ (its path is printed; reproduce with
# `cargo +nightly fuzz run --fuzz-dir tests/fuzz -s none -a TARGET PATH`) and makes the script exit 1.
#
# Sanitizer: none (`-s none`), with debug assertions and overflow checks (`-a`). caregate forbids unsafe code,
# so what the fuzzer looks for is panics (a slice out of range, an unwrap, an arithmetic overflow), hangs and
# unbounded memory, which these catch; AddressSanitizer would watch only the few unsafe blocks of dependencies
# and run the targets about half as fast. The targets link the engine alone (`caregate-engine`: no server,
# database or C library). One process per target (no -jobs, no -fork): the machines it runs on have few cores.
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# < 1)) || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
  exit 2
fi
seconds=$1
shift
all_targets=(xml json rule rules_toml records bulk tables)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
  if [[ ! -f tests/fuzz/fuzz_targets/$target.rs ]]; then
    echo "fuzz: no target $target (the targets are: ${all_targets[*]})" >&2
    exit 2
  fi
done

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: installing the nightly toolchain" >&2
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

fuzz_dir=tests/fuzz
corpus=$fuzz_dir/corpus
artifacts=$fuzz_dir/artifacts
# Not in the artifacts directory, where cargo-fuzz would take a log for a failing input.
logs=$fuzz_dir/target/logs

# Seeds: each file under its path, with `/` written as `_`, so that seeding again replaces rather than adds.
seed() {
  local target=$1 file
  shift
  mkdir -p "$corpus/$target"
  for file in "$@"; do
    if [[ -f $file ]]; then
      cp "$file" "$corpus/$target/seed_${file//\//_}"
    fi
  done
}
shopt -s nullglob globstar
seed xml schemas/*/*/examples/**/*.xml conformance-suite/**/*.xml
seed json schemas/*/*/examples/**/*.json conformance-suite/**/*.json
seed records schemas/cin-census/*/examples/**/*.xml conformance-suite/cin-census/**/*.xml
seed bulk schemas/cin-census/*/examples/**/*.xml conformance-suite/cin-census/**/*.xml
seed rules_toml schemas/*/*/rules.toml
seed tables conformance-suite/ssda903/**/*.csv
mkdir -p "$corpus/rule"
# A rule seed: the expression, a NUL byte, and the variables as a JSON object: `self` the first node the rule's
# context names in the pack's first valid JSON example, `root` that example, `params` the pack's parameters.
python3 - "$corpus/rule" <<'PY' || echo "fuzz: the rule corpus is not seeded (python3 with tomllib, 3.11 or later, reads rules.toml)" >&2
import glob, json, os, sys, tomllib

out = sys.argv[1]
for rules_path in sorted(glob.glob("schemas/*/*/rules.toml")):
    pack = os.path.dirname(rules_path)
    with open(rules_path, "rb") as f:
        rules = tomllib.load(f)
    with open(os.path.join(pack, "standard.toml"), "rb") as f:
        params = tomllib.load(f).get("params", {})
    examples = sorted(glob.glob(os.path.join(pack, "examples/valid/*.json")))
    root = json.load(open(examples[0])) if examples else {}
    name = pack.replace("schemas/", "").replace("/", "_")
    entries = [(r["id"], r["context"], r["expression"]) for r in rules.get("rule", [])]
    entries += [(a["name"], a["context"], a["value"]) for a in rules.get("aggregate", [])]
    for n, (rule, context, expression) in enumerate(entries):
        node = root
        for token in filter(None, context.split("/")):
            if isinstance(node, list) and node and token == "*":
                node = node[0]
            elif isinstance(node, dict) and token in node:
                node = node[token]
            else:
                node = None
                break
        variables = {"self": node, "root": root, "asOf": "2026-03-31", "now": "2026-03-31T12:00:00Z", "params": params, "agg": {}}
        with open(os.path.join(out, f"seed_{name}_{n}_{rule}"), "wb") as f:
            f.write(expression.encode() + b"\0" + json.dumps(variables).encode())
PY

fuzz=(cargo +nightly fuzz)
flags=(--fuzz-dir "$fuzz_dir" --sanitizer none --debug-assertions --codegen-units 16)
echo "fuzz: building ${targets[*]}" >&2
for target in "${targets[@]}"; do
  "${fuzz[@]}" build "${flags[@]}" "$target"
done

failed=0
summary=()
for target in "${targets[@]}"; do
  mkdir -p "$artifacts/$target" "$logs"
  log=$logs/$target.log
  echo "fuzz: $target for ${seconds}s" >&2
  status=0
  # cargo-fuzz runs the target over $corpus/$target and writes failing inputs to $artifacts/$target/.
  "${fuzz[@]}" run "${flags[@]}" "$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if ((status == 0)); then
    summary+=("$target: ${runs:-?} inputs in ${seconds}s, no crash")
  else
    failed=1
    input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    summary+=("$target: ${runs:-?} inputs, CRASH (exit $status): ${input:-no input written, see $log}")
    echo "fuzz: $target failed; the end of its log ($log):" >&2
    tail -n 40 "$log" >&2
  fi
done
printf '%s\n' "${summary[@]}"
exit "$failed"
