#!/usr/bin/env bash
# perf-packs.sh: share of a training step's CPU samples spent in the GEMM packs, by pack routine and
# by the native entry point that called it (gemm's two parallel regions: #1 whole items per thread,
# #2 rows/panels split; the fused linear_swiglu / gemm_swiglu and their backwards). Needs Linux perf.
# Usage: TRM_THREADS=2 tools/perf-packs.sh [preset] [steps] [B] [fp32|bf16]   (profile-step.mjs's arguments)
#        tools/perf-packs.sh --data FILE   (attribute an existing perf.data)
# Which operand a pack reads (weight or activation) follows from the shape table profile-step.mjs prints:
# a weight is the B operand of the channel MLP's forward (X W^T) and dX products, the A operand of the
# token mixer's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ "${1:-}" == "--data" ]]; then
  data=$2
else
  data=$(mktemp /tmp/perf-packs.XXXXXX)
  trap 'rm -f "$data"' EXIT
  perf record -q -F 499 -g -o "$data" node "$here/profile-step.mjs" "${@:-paper}" | grep -v '^  [a-zA-Z]'
fi
perf script -i "$data" -F ip,sym 2>/dev/null | awk '
/^[ \t]*$/ { if (leaf != "") { tot++; if (leaf ~ /pack_/) { c[leaf " <- " par]++; packs++ } } leaf = ""; par = ""; next }
{ s = $0; sub(/^[ \t]*[0-9a-f]+ /, "", s)
  if (leaf == "") { sub(/^trm::\(anonymous namespace\)::/, "", s); leaf = s; next }
  if (par == "" && s ~ /(gemm_swiglu_backward|gemm_swiglu|linear_swiglu_backward|linear_swiglu|trm::gemm\()/) {
    if (s ~ /trm::gemm\(/) { par = s ~ /lambda\(int, int\)#1/ ? "gemm (items per thread)" : "gemm (rows/panels split)" }
    else { sub(/\(.*/, "", s); sub(/^trm::/, "", s); par = s } } }
END { printf "%d samples, %.2f%% in packs\n", tot, 100 * packs / tot
      for (k in c) if (c[k] / tot >= 0.0001) printf "%6.2f%%  %s\n", 100 * c[k] / tot, k }' | sort -k1,1 -rn
