#!/usr/bin/env bash
# Trunk post-build hook: shrink the release wasm with binaryen's wasm-opt. Flattening and
# re-looping the control flow before two rounds of -Oz gives about 1.5 KB less to download
# (gzipped) than -Oz alone, and whole-program flow analysis (--gufa) between them a few
# hundred bytes more, and one -Oz round before the flattening about 230 bytes more (measured
# when the page was 350 158 bytes); --converge and -O3 were tried and give nothing. The producers
# and target-features sections are metadata no browser reads.
# --low-memory-unused lets binaryen fold `load(p + C)` into `load offset=C (p)` (the add wraps,
# the offset does not; the two differ only for addresses in the first 1 KiB): Rust's wasm32
# output puts its 1 MiB stack first and its data above it, so nothing lives in that first KiB
# but the bottom of a stack that would already have overflowed (emscripten passes the flag by
# default for the same reason). With --merge-similar-functions (monomorphised copies that differ
# only in constants become one) it took 2.4 KB off the gzipped download (350 367 -> 347 998
# bytes, measured when the controller's menu was added).
# KLAB_WASM_OPT_EXTRA=-g keeps function names, for profiling the page in the browser.
set -euo pipefail
[ "${TRUNK_PROFILE:-}" = "release" ] || exit 0
opt="$(dirname "$0")/../node_modules/.bin/wasm-opt"
if [ ! -x "$opt" ]; then
  echo "wasm-opt: node_modules/.bin/wasm-opt is missing (run npm ci); the wasm is left unoptimised"
  exit 0
fi
for f in "$TRUNK_STAGING_DIR"/*.wasm; do
  "$opt" ${KLAB_WASM_OPT_EXTRA:-} --low-memory-unused --merge-similar-functions -Oz --flatten --rereloop -Oz --type-ssa --gufa -Oz --strip-producers --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals "$f" -o "$f"
done
