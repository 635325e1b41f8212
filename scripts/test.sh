#!/usr/bin/env bash
# Runs every test suite: engine and runner (native), the app's unit tests, wasm tests in
# headless Chromium, then the release build driven end to end by Playwright.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test.sh

echo "== formatting"
cargo fmt --all -- --check

echo "== native: engine, runner and app logic"
cargo test --release --workspace

echo "== wasm: the engine and the app in headless Chromium"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner CHROMEDRIVER=/usr/bin/chromedriver \
  cargo test --release --target wasm32-unknown-unknown -p kafka-delivery-lab --test web

echo "== release build"
trunk build --release --offline

echo "== end to end: Playwright in headless Chromium"
npx playwright test
