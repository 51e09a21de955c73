#!/usr/bin/env bash
# Installs what the wasm builds need and is missing: the wasm32 target, the pinned nightly of the threaded build
# (with rust-src, for -Z build-std) and the wasm-bindgen CLI at the exact version Cargo.lock pins (the CLI refuses
# modules built by another wasm-bindgen version; both builds use the same one).
# --single: all but the nightly (what the single-thread build needs; `make run` builds the threaded one later).
set -euo pipefail
cd "$(dirname "$0")/.."
single=false
case "${1:-}" in
  --single) single=true ;;
  "") ;;
  *) echo "usage: $0 [--single]" >&2; exit 2 ;;
esac

if ! command -v cargo >/dev/null; then
  echo "error: cargo not found; install Rust from rustup first" >&2
  exit 1
fi

if command -v rustup >/dev/null; then
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
else
  echo "warning: no rustup; assuming the wasm32-unknown-unknown target is installed" >&2
fi

# The threaded page build (Makefile: wasm-threads) rebuilds std with atomics, which needs a nightly; pinned, so
# that every machine builds the same thing (the Makefile reads the name from this line).
THREADS_TOOLCHAIN=nightly-2026-05-20
if "$single"; then
  :
elif command -v rustup >/dev/null; then
  if ! rustup run "$THREADS_TOOLCHAIN" rustc --print sysroot >/dev/null 2>&1 \
    || [ ! -d "$(rustup run "$THREADS_TOOLCHAIN" rustc --print sysroot)/lib/rustlib/src/rust/library" ] \
    || ! rustup target list --toolchain "$THREADS_TOOLCHAIN" --installed | grep -qx wasm32-unknown-unknown; then
    rustup toolchain install "$THREADS_TOOLCHAIN" --profile minimal --component rust-src --target wasm32-unknown-unknown
  fi
else
  echo "warning: no rustup; the threaded page build needs $THREADS_TOOLCHAIN with rust-src" >&2
fi

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
  echo "error: could not read the wasm-bindgen version from Cargo.lock" >&2
  exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (found: ${have:-none})"
  # Not --locked: the CLI's own lock file pins crates that no longer build with current compilers.
  cargo install wasm-bindgen-cli --version "$want"
fi
