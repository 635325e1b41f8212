#!/usr/bin/env bash
# Serves the lab at http://127.0.0.1:8080/ (installing the build tools on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec trunk serve --release --offline "$@"
