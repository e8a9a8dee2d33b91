#!/usr/bin/env bash
# Builds the engine for the browser: crates/caregate-wasm as target/wasm/caregate.wasm (release).
#
# First the plain way (`cargo build --target wasm32-unknown-unknown`, where rustup has that target's standard
# library); failing that, Debian's rustc-web with its library source (`apt-get install rustc-web cargo-web
# rust-web-src`), building std with -Zbuild-std and linking with rustup's rust-lld. Either way the module
# lands at the same path, which `caregate console export` and `caregate serve` take it from.
# Usage: bash scripts/build-wasm.sh [--install] [--site DIR]
#   --install: apt-get Debian's packages when they are missing;
#   --site DIR: then build caregate (which embeds the module) and write the console's site into DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
install=0
site=
while (($#)); do
  case $1 in
    --install) install=1 ;;
    --site) site=${2:?--site needs a folder}; shift ;;
    *) echo "build-wasm: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

target_dir=${CARGO_TARGET_DIR:-target}
out=target/wasm/caregate.wasm
mkdir -p target/wasm
# What is shipped: optimised, without debug information (the workspace's release profile keeps line tables for
# profiling the native binary), panics abort (no unwinding tables in the module).
export CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=true CARGO_PROFILE_RELEASE_PANIC=abort

# The plain way's complaint (no wasm32 standard library) is not worth showing when the fallback follows.
if cargo build --release --target wasm32-unknown-unknown -p caregate-wasm 2>/dev/null; then
  built="$target_dir/wasm32-unknown-unknown/release/caregate_wasm.wasm"
  echo "build-wasm: built with cargo's wasm32-unknown-unknown target" >&2
else
  if [[ ! -x /usr/bin/cargo || ! -d /usr/lib/rustlib/src/rust/library ]]; then
    if ((install)) && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src
    else
      echo "build-wasm: no wasm32 standard library for cargo, and Debian's rustc-web is not installed:" >&2
      echo "  apt-get install rustc-web cargo-web rust-web-src   (or run with --install)" >&2
      exit 2
    fi
  fi
  # rustup's linker, found through rustup's rustc (the one on the PATH); Debian's rustc compiles.
  lld="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
  if [[ ! -x $lld ]]; then
    lld=$(command -v rust-lld || command -v wasm-ld || true)
  fi
  if [[ -z $lld ]]; then
    echo "build-wasm: no rust-lld or wasm-ld to link the module" >&2
    exit 2
  fi
  # A target folder of its own: Debian's compiler must not share artefacts with rustup's.
  debian_dir="$target_dir/wasm-debian"
  RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$debian_dir" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$lld" \
    /usr/bin/cargo build --release --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort -p caregate-wasm
  built="$debian_dir/wasm32-unknown-unknown/release/caregate_wasm.wasm"
  echo "build-wasm: built with Debian's rustc-web and -Zbuild-std" >&2
fi
cp "$built" "$out"
echo "build-wasm: $out ($(wc -c <"$out") bytes)" >&2
if [[ -n $site ]]; then
  # The native binary with its usual profile: the module is what is optimised for shipping.
  (unset CARGO_PROFILE_RELEASE_DEBUG CARGO_PROFILE_RELEASE_STRIP CARGO_PROFILE_RELEASE_PANIC; cargo build -p caregate)
  "$target_dir/debug/caregate" console export "$site"
fi
