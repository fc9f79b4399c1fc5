#!/usr/bin/env bash
# Before/after comparison of the same benchmarks: a worktree of COMMIT and this checkout, alternating, ROUNDS times,
# each writing its rows as JSON (bench_before_N.json / bench_after_N.json in OUT). Issue 10 used:
#   bench/before_after.sh 5990bc4 5 /tmp/ba --only command_path --only city_reads
# PYTHONPATH makes the processes a benchmark starts (`frontdoor demo-city`) import the tree under test, not the
# installed checkout.
set -euo pipefail
commit=$1 rounds=$2 out=$3; shift 3
here=$(cd "$(dirname "$0")/.." && pwd)
py=$here/.venv/bin/python
before=$out/before-tree
mkdir -p "$out"
[ -d "$before" ] || git -C "$here" worktree add --detach "$before" "$commit" >/dev/null
for round in $(seq 1 "$rounds"); do
  for tree in before after; do
    dir=$before; [ $tree = after ] && dir=$here
    echo "=== round $round $tree $(git -C "$dir" rev-parse --short HEAD) $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd "$dir" && PYTHONPATH=$dir $py -m bench.run_all --quick "$@" --json "$out/bench_${tree}_${round}.json")
  done
done
