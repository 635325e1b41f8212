#!/usr/bin/env bash
# Runs the same scenarios through this checkout's runner and another commit's, and compares
# their run reports (fates, why-chains, errors, partitions; not the event count). For changes
# meant to leave behaviour alone, such as speed work: the scenario files, plus CASES random
# cases from the property tests (seed KLAB_PROPTEST_SEED), half of which Kafka would refuse.
#   bash scripts/compare-engines.sh BASE_COMMIT [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:?usage: scripts/compare-engines.sh BASE_COMMIT [CASES]}"
cases="${2:-1000}"
work="$(mktemp -d)"
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -f --detach "$work/base" "$base" >/dev/null
(cd "$work/base" && cargo build --release -p kafka-lab --quiet)
cargo build --release -p kafka-lab --quiet
mkdir -p "$work/cases"
KLAB_DUMP_DIR="$work/cases" KLAB_PROPTEST_CASES="$cases" \
  cargo test --release --quiet -p kafka-lab-engine --test properties random_runs_keep_every_invariant >/dev/null
python3 - "$work/base/target/release/kafka-lab" target/release/kafka-lab "$work/cases" scenarios <<'PY'
import json, os, subprocess, sys
old, new, *dirs = sys.argv[1:]
same = refused = 0
diffs = []
for d in dirs:
    for f in sorted(os.listdir(d)):
        if not f.endswith('.toml'):
            continue
        p = os.path.join(d, f)
        a, b = (subprocess.run([exe, 'run', p], capture_output=True, text=True) for exe in (old, new))
        if (a.returncode, a.returncode and a.stderr) != (b.returncode, b.returncode and b.stderr):
            diffs.append(f'{p}: exit {a.returncode} -> {b.returncode} {b.stderr.strip()[:200]}')
            continue
        if a.returncode:
            refused += 1
            continue
        ja, jb = json.loads(a.stdout), json.loads(b.stdout)
        ja.pop('events'); jb.pop('events')
        if ja == jb:
            same += 1
            continue
        keys = [k for k in ja if ja[k] != jb.get(k)]
        fates = [(r['id'], r['fate'], s['fate']) for r, s in zip(ja['records'], jb['records']) if r['fate'] != s['fate']]
        diffs.append(f'{p}: differs in {keys}; fates {fates[:5]}')
print('\n'.join(diffs))
print(f'compare-engines: {same} reports identical, {refused} refused identically, {len(diffs)} different')
sys.exit(1 if diffs else 0)
PY
