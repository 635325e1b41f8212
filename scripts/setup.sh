#!/usr/bin/env bash
# Installs what building the lab needs, only when missing: the wasm target, Trunk and the
# wasm-bindgen CLI at the exact version Cargo.toml pins. Idempotent; quick when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
TRUNK_VERSION=0.21.14

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
# Release builds of the tools without fat LTO install in half the time and work the same.
fast_install() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo install "$@"
}
if ! trunk --version 2>/dev/null | grep -q "trunk $TRUNK_VERSION"; then
  echo "setup: installing trunk $TRUNK_VERSION (a few minutes, once)"
  fast_install --locked "trunk@$TRUNK_VERSION"
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "wasm-bindgen $WASM_BINDGEN_VERSION"; then
  echo "setup: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # Without --locked: its lock file names a crate version the registry no longer serves.
  fast_install "wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
fi
if [ ! -d node_modules/binaryen ] || [ ! -d node_modules/@playwright/test ]; then
  echo "setup: installing npm packages (binaryen's wasm-opt, Playwright)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
