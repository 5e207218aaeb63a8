#!/usr/bin/env bash
# Old vs new benchmark figures, interleaved in one session on one machine (issue #20's
# "ratios within noise of before").  Each tree runs its OWN script version against its own build:
#
#   experiments/compare_versions.sh OLD_TREE NEW_TREE OUT_DIR [PRODUCTS_ROOT]
#
# OLD_TREE / NEW_TREE: checkouts with a built gnnkit/_C*.so (e.g. `git worktree add /tmp/old
# 2d8c0a8` + its own build); PRODUCTS_ROOT: bench_sampling.py's cached products-sized graph.
# Same-run ratios (speedup_vs_*) are the figures to compare; absolute times differ when the two
# script versions build their inputs differently.
set -u
OLD=$1 NEW=$2 OUT=$3 PRODUCTS=${4:-/tmp/gnnkit_bench_products}
mkdir -p "$OUT"
run() {  # tag tree script args...
  local tag=$1 tree=$2; shift 2
  echo "== $tag $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/log"
  (cd "$tree" && PYTHONPATH="$tree" timeout 1200 python "$@") > "$OUT/$tag.out" 2>&1
  echo "   rc=$? $(grep '^RESULT' "$OUT/$tag.out" | cut -c1-200)" | tee -a "$OUT/log"
}
for rep in 1 2; do
  run "ops-old-$rep" "$OLD" experiments/bench_ops.py --no-memory --skip pyg_scatter
  run "ops-new-$rep" "$NEW" experiments/bench_ops.py --no-memory --skip pyg_scatter --reorder --no-bf16
  run "models-old-$rep" "$OLD" experiments/bench_models.py
  run "models-new-$rep" "$NEW" experiments/bench_models.py
done
run sampling-old "$OLD" experiments/bench_sampling.py --root "$PRODUCTS" --max-train-batches 8 --batches 10
run sampling-new "$NEW" experiments/bench_sampling.py --root "$PRODUCTS" --max-train-batches 8 --batches 10
run analysis-old "$OLD" experiments/bench_analysis.py --peer-python none
run analysis-new "$NEW" experiments/bench_analysis.py --peer-python none
