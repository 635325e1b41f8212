#!/usr/bin/env bash
# Prints the lab's figures: native engine speed and memory, the same workload in wasm,
# the page's transfer size, first render, scrubbing and playing. Measures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test.sh
RECORDS="${1:-100000}"
cargo build --release -p kafka-lab
./target/release/kafka-lab bench "$RECORDS"
trunk build --release --offline >/dev/null
# The same page with the benchmark compiled in, for the engine's speed in wasm as shipped
# (engine at opt-level "z"), and once more with the engine at opt-level 3 as natively.
trunk build --release --offline --features bench --dist target/bench-dist >/dev/null
# index.html with the release profile instead of web (Trunk needs it beside static/).
sed 's/data-cargo-profile="web"/data-cargo-profile="release"/' index.html > bench-o3.html
trunk build bench-o3.html --release --offline --features bench --dist target/bench-o3-dist >/dev/null
rm -f bench-o3.html
total=0
# wasm-bindgen's JS snippets (the link compressor) live under dist/snippets/.
for f in $(find dist -name '*.wasm' -o -name '*.js' -o -name '*.css' | sort); do
  size=$(gzip -9 -c "$f" | wc -c)
  total=$((total + size))
  printf 'size: %-50s %8d bytes, %8d gzipped\n' "$(basename "$f")" "$(wc -c < "$f")" "$size"
done
echo "size: total transfer (wasm + JS + CSS, gzipped): $total bytes = $((total / 1024)) KiB = $((total / 1000)) kB"
python3 -m http.server 8767 --bind 127.0.0.1 --directory dist >/dev/null 2>&1 &
server=$!
python3 -m http.server 8768 --bind 127.0.0.1 --directory target/bench-dist >/dev/null 2>&1 &
bench_server=$!
python3 -m http.server 8769 --bind 127.0.0.1 --directory target/bench-o3-dist >/dev/null 2>&1 &
o3_server=$!
trap 'kill $server $bench_server $o3_server' EXIT
sleep 1
RECORDS="$RECORDS" BASE="http://127.0.0.1:8767/" BENCH_BASE="http://127.0.0.1:8768/" O3_BASE="http://127.0.0.1:8769/" node scripts/bench.mjs
