#!/usr/bin/env bash
# Conversion of a bulk return: whole-process XML → JSON of a generated CIN census return by caregate (release
# build, record by record), beside Python's xmltodict + json.dump of the same file, measured in the same run;
# peak memory of both; a messy return too when the generator has `--profile messy`.
#
#   bash benches/convert.sh [CHILDREN=10000] [RUNS=10] [BIG_CHILDREN=0]
#
# CAREGATE=path/to/caregate measures that binary instead of building the release one.
#
# Needs hyperfine and GNU time (Debian: hyperfine, time). xmltodict 1.0.4 is installed in a virtual environment
# under target/convert-venv on first use. The baseline writes compact JSON with the C encoder (json.dump without
# indent, its fastest); caregate writes the indented JSON of `caregate convert`. BIG_CHILDREN (e.g. 200000,
# ~290 MB) adds caregate's peak memory on a return far over the read limit.
set -euo pipefail
cd "$(dirname "$0")/.."
children=${1:-10000}
runs=${2:-10}
big=${3:-0}
work=target/bench-convert
mkdir -p "$work"
bin=${CAREGATE:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-target}/release/caregate
fi

venv=target/convert-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import xmltodict' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet xmltodict==1.0.4
fi
cat >"$work/xmltodict_json.py" <<'PY'
import json, sys
import xmltodict
with open(sys.argv[1], "rb") as source:
    document = xmltodict.parse(source)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump(document, out, ensure_ascii=False)
PY

returns=(clean)
$bin generate cin-census --count "$children" --seed 2026 --output "$work/clean.xml" >/dev/null
if $bin generate --help | grep -q -- '--profile'; then
  $bin generate cin-census --count "$children" --seed 2026 --profile messy --output "$work/messy.xml" >/dev/null
  returns+=(messy)
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -srm); load $(cut -d' ' -f1-3 /proc/loadavg)"

for name in "${returns[@]}"; do
  file="$work/$name.xml"
  echo
  echo "== $name return: $file ($(du -h "$file" | cut -f1), $children children)"
  # Both read the same file and see every child.
  $bin convert "$file" --to json -o "$work/$name.caregate.json" 2>/dev/null || true
  "$venv/bin/python" "$work/xmltodict_json.py" "$file" "$work/$name.xmltodict.json"
  python3 - "$work/$name.caregate.json" "$work/$name.xmltodict.json" <<'PY'
import json, sys
ours, theirs = (json.load(open(p)) for p in sys.argv[1:3])
print(f"children: caregate {len(ours['Children']['Child'])}, xmltodict {len(theirs['Message']['Children']['Child'])}")
PY
  # Each run writes its output afresh (the last run's is removed before it, for both): replacing a file of
  # megabytes costs whoever replaces it the freeing of the old one's blocks, which is the file system's work,
  # not the conversion's (on this machine's ext4, mounted with `discard`, about 10 ms).
  hyperfine -N --warmup 1 --runs "$runs" --ignore-failure --export-json "$work/$name.json" \
    --prepare "rm -f $work/$name.caregate.json" --prepare "rm -f $work/$name.xmltodict.json" \
    -n caregate "$bin convert $file --to json -o $work/$name.caregate.json" \
    -n "xmltodict + json.dump" "$venv/bin/python $work/xmltodict_json.py $file $work/$name.xmltodict.json"
  python3 - "$work/$name.json" "$file" <<'PY'
import json, os, sys
rows = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
mb = os.path.getsize(sys.argv[2]) / 1e6
ours, theirs = rows["caregate"]["median"], rows["xmltodict + json.dump"]["median"]
print(f"\nmedian whole-process time: caregate {ours:.3f} s ({mb / ours:.0f} MB/s), "
      f"xmltodict + json.dump {theirs:.3f} s ({mb / theirs:.1f} MB/s)")
print(f"caregate is {theirs / ours:.1f}x faster than xmltodict + json.dump")
PY
  for cmd in "$bin convert $file --to json -o $work/$name.caregate.json" "$venv/bin/python $work/xmltodict_json.py $file $work/$name.xmltodict.json"; do
    /usr/bin/time -v $cmd >/dev/null 2>"$work/time.txt" || true
    awk -F': ' -v c="$(basename "$(echo "$cmd" | cut -d' ' -f1)")" '/Maximum resident/ {printf "peak memory, %s: %d MiB\n", c, $2/1024}' "$work/time.txt"
  done
done

if [ "$big" -gt 0 ]; then
  bigreturn="$work/big-$big.xml"
  [ -f "$bigreturn" ] || $bin generate cin-census --count "$big" --seed 7 --output "$bigreturn" >/dev/null
  echo
  echo "== big return: $(du -h "$bigreturn" | cut -f1), $big children"
  /usr/bin/time -v "$bin" convert "$bigreturn" --to json -o "$work/big.json" 2>"$work/time-big.txt" >/dev/null || true
  awk -F': ' '/Maximum resident/ {printf "peak memory, caregate: %d MiB\n", $2/1024} /Elapsed/ {print "elapsed: " $2}' "$work/time-big.txt"
  rm -f "$work/big.json"
fi
