#!/usr/bin/env bash
# tools/gpu-bench.sh: the WebGPU benchmarks on a lent GPU machine, as one prepared script.
#
# A lent machine (the `device` tool of this workplace) starts bare: no Node, no node_modules, no
# Vulkan loader, nothing downloadable. So the run is in two halves:
#
#   tools/gpu-bench.sh prepare   here, after `npm ci`: writes .dev/ (Node, the production
#                                node_modules with Dawn's linux-x64 build only, a 4x4 Sudoku
#                                dataset) and .gl/ (the Vulkan/GL loader .debs). Both are
#                                git-ignored through .git/info/exclude; ~50 MB with the tree.
#   tools/gpu-bench.sh run       there (carry: .dev .gl dist build/Release): unpacks them, then
#                                times and writes each part to NAME.txt in $OUT/parts.tgz:
#     machine     CPU model and flags (AMX?), the GPU (nvidia-smi)
#     adapter     the WebGPU adapter Dawn picks (never SwiftShader here)
#     gemm-*      `bench gemm --backend webgpu`: as shipped, with split-K (TRM_WEBGPU_SPLITK=512), with 32-deep k slices
#     step-gpu    `bench step --backend webgpu` for the paper configs and the CPU presets, with the
#                 host's native CPU step beside it
#     torch-cuda  (GPU_BENCH_TORCH=1) the same paper steps in eager PyTorch on the GPU
#                 (tools/torch_step_bench.py --device cuda), fp32 and autocast bf16
#     check-bf16  tools/check-bf16-gemm.mjs: the host CPU's bf16 GEMM (AMX where it has it) against
#                 float64, 1 vs N threads, AMX vs VDPBF16PS
#     step-cpu    `bench step` native on the machine's CPU (another CPU kind), with PyTorch (CPU)
#     host-regions  tools/profile-step.mjs cpu-sudoku4 on all the host's threads: fp32, bf16 (AMX where
#                 it has it), bf16 with TRM_AMX=0: per kernel, and the pool's region waits
#     train-gpu   `trm train --backend webgpu --preset cpu-sudoku4` on the 4x4 data: steps/s and
#                 held-out accuracy of a real run on the GPU
#     gemm-cpu-bf16  (GPU_BENCH_MORE=1, with gemm-f16 and step-gpu-b256) `bench gemm --precision
#                 bf16` on the host CPU (against the AMX peak where used)
#     amx         .dev/amx/amx-probe when present (a register-only AMX-BF16 loop, not built here)
#     host-paper  tools/profile-step.mjs paper (D 512, B 64) on all the host's threads: fp32, bf16 on
#                 AMX, bf16 with TRM_AMX=0 (issue 15's AMX target: the bf16 step >= 4x fp32);
#                 GPU_BENCH_PAPER="bf16" (say) for fewer
# Each part has its own time limit and none starts after GPU_BENCH_SECONDS (default 420) of the
# run, so one that hangs costs only its own minutes and the call ends inside the lease.
#     host-ab     (after `prepare-ab DIR` here) tools/bench-ab-step.mjs: the paper step at B 64 on all the
#                 host's threads, the build in DIR against this one, fp32 and bf16 in one process
#                 (GPU_BENCH_AB_PRESETS="paper cpu-sudoku4" for more presets)
# GPU_BENCH_PARTS=a,b,...: run only the parts named (e.g. host-paper,check-bf16), to fit a short lease.
#
#   tools/gpu-bench.sh prepare-ab DIR   here: copies another checkout's build (DIR: dist/, the addon,
#                                package.json; e.g. a `git worktree` of the commit before, built) into .ab/base
#                                for the host-ab part (carry .ab too).
set -u
mode=${1:-}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "$mode" = prepare ]; then
  set -e
  [ -f dist/cli/main.js ] || { echo "gpu-bench: run npm ci first (dist/cli/main.js missing)" >&2; exit 1; }
  for p in /.dev/ /.gl/; do grep -qxF "$p" .git/info/exclude 2>/dev/null || echo "$p" >>.git/info/exclude; done
  mkdir -p .dev .gl /tmp/amd64/partial
  xz -T2 -6 -c "$(command -v node)" >.dev/node.xz
  npm ls --omit=dev --parseable --all 2>/dev/null | tail -n +2 | sed "s|^$root/||" | sort -u >/tmp/gpu-bench-mods.txt
  tar --exclude='node_modules/webgpu/dist/win32-*' --exclude='node_modules/webgpu/dist/darwin-*' \
    --exclude='node_modules/webgpu/dist/linux-arm64' -cf - -T /tmp/gpu-bench-mods.txt | xz -T2 -6 >.dev/nm.tar.xz
  t=$(mktemp -d)
  node dist/cli/main.js data generate sudoku --size 4 --count 400 --seed 1 --out "$t/train.csv" >/dev/null
  node dist/cli/main.js data generate sudoku --size 4 --count 200 --seed 2 --out "$t/test.csv" >/dev/null
  rm -rf .dev/s4 && node dist/cli/main.js data build sudoku --train "$t/train.csv" --test "$t/test.csv" --aug 20 --out .dev/s4 >/dev/null
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
  du -sh .dev .gl
  exit 0
fi
if [ "$mode" = prepare-ab ]; then
  set -e
  src=${2:?usage: tools/gpu-bench.sh prepare-ab DIR (a built checkout)}
  [ -f "$src/dist/cli/main.js" ] && [ -f "$src/build/Release/trm_native.node" ] ||
    { echo "gpu-bench: $src has no dist/cli/main.js or build/Release/trm_native.node (build it first)" >&2; exit 1; }
  grep -qxF /.ab/ .git/info/exclude 2>/dev/null || echo /.ab/ >>.git/info/exclude
  rm -rf .ab/base && mkdir -p .ab/base/build/Release
  cp -r "$src/dist" .ab/base/ && cp "$src/package.json" .ab/base/ && cp "$src/build/Release/trm_native.node" .ab/base/build/Release/
  echo "prepared .ab/base from $src ($(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout'))" | tee .ab/base/FROM
  exit 0
fi
if [ "$mode" != run ]; then
  echo "usage: tools/gpu-bench.sh prepare|prepare-ab DIR|run" >&2
  exit 2
fi

OUT=${OUT:-/tmp/gpu-bench-out}
P=$(mktemp -d) # the parts' outputs; packed into $OUT/parts.tgz at the end (a lease returns <= 8 files)
mkdir -p "$OUT"
trap 'tar -czf "$OUT/parts.tgz" -C "$P" .' EXIT
DEADLINE=${GPU_BENCH_SECONDS:-420} # the whole run's budget: a part never starts past it
part() { # part NAME SECONDS CMD...: run CMD with a time limit, output to $OUT/NAME.txt and stdout
  local name=$1 secs=$2
  shift 2
  if [ -n "${GPU_BENCH_PARTS:-}" ] && [[ ",$GPU_BENCH_PARTS," != *",$name,"* ]]; then
    echo "=== $name: not in GPU_BENCH_PARTS"
    return
  fi
  local left=$((DEADLINE - SECONDS))
  if [ "$left" -lt 20 ]; then
    echo "=== $name: SKIPPED (${left}s of the ${DEADLINE}s budget left)"
    return
  fi
  [ "$secs" -gt "$left" ] && secs=$left
  echo "=== $name ($(date -u +%T), limit ${secs}s): $*"
  timeout -k 5 "$secs" "$@" >"$P/$name.txt" 2>&1
  local rc=$?
  tail -n 40 "$P/$name.txt"
  echo "=== $name rc $rc"
}

{
  date -u
  lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Socket|L2|L3'
  echo "amx: $(grep -o 'amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "avx512_bf16: $(grep -c avx512_bf16 /proc/cpuinfo) cpus"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
} >"$P/machine.txt" 2>&1
cat "$P/machine.txt"

for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
mkdir -p /tmp/nodebin && xz -dc .dev/node.xz >/tmp/nodebin/node && chmod +x /tmp/nodebin/node
export PATH=/tmp/nodebin:$PATH
tar -xJf .dev/nm.tar.xz
node --version
T="node dist/cli/main.js"

part adapter 60 node --input-type=module -e "
  const { createNodeWebGpuDevice } = await import('./dist/webgpu/node.js');
  const d = await createNodeWebGpuDevice();
  console.log('adapter:', d.adapterName, '| swiftshader:', d.isSwiftShader);
  console.log(JSON.stringify(d.limits()));
  d.destroy();"
grep -qs 'swiftshader: false' "$P/adapter.txt" || { echo "no GPU adapter: the GPU parts are skipped"; gpu=0; }
[ -x .dev/amx/amx-probe ] && part amx 30 .dev/amx/amx-probe # optional: AMX-BF16 usable? its peak
# In order of what matters most, so a short lease still gets the first parts.
if [ "${gpu:-1}" = 1 ]; then
  part gemm-fp32 90 $T bench gemm --backend webgpu
  part gemm-splitk 60 env TRM_WEBGPU_SPLITK=512 $T bench gemm --backend webgpu
fi
part step-cpu 150 env TRM_PYTHON="$(command -v python3)" $T bench step --preset mlp,cpu-sudoku4,cpu-sudoku9 \
  --precision fp32,bf16 --reps 3 --torch-reps 2
# where the host's small bf16 steps go on all its threads (bf16 ran 0.58x fp32 on a 16-core AMX Xeon):
# per kernel and per parallel region (waits at the ends), fp32, bf16 on AMX, bf16 on VDPBF16PS
part host-regions 90 bash -c 'for p in fp32 bf16; do node tools/profile-step.mjs cpu-sudoku4 60 32 $p; done
  TRM_AMX=0 node tools/profile-step.mjs cpu-sudoku4 60 32 bf16'
# (GPU_BENCH_AB_PRESETS: the presets, paper by default; GPU_BENCH_AB_STEPS rounds for paper, 30 for the others)
[ -d .ab/base ] && part host-ab 200 bash -c 'for p in ${GPU_BENCH_AB_PRESETS:-paper}; do
  n=30; [ $p = paper ] && n=${GPU_BENCH_AB_STEPS:-8}
  node tools/bench-ab-step.mjs "$PWD/.ab/base@fp32,$PWD@fp32,$PWD/.ab/base@bf16,$PWD@bf16" $p $n fp32; done'
# (GPU_BENCH_PAPER: which of fp32, bf16 and bf16-noamx (TRM_AMX=0), in order)
part host-paper 240 bash -c 'for p in ${GPU_BENCH_PAPER:-fp32 bf16 bf16-noamx}; do
  if [ $p = bf16-noamx ]; then TRM_AMX=0 node tools/profile-step.mjs paper 3 64 bf16; else node tools/profile-step.mjs paper 3 64 $p; fi; done'
if [ "${gpu:-1}" = 1 ]; then
  part step-gpu 120 $T bench step --backend webgpu --preset mlp,att,cpu-sudoku4,cpu-sudoku9 --no-torch
  part gemm-bk32 60 env TRM_WEBGPU_GEMM_BK=32 $T bench gemm --backend webgpu
  part train-gpu 60 $T train --backend webgpu --data .dev/s4 --preset cpu-sudoku4 --out /tmp/gpu-s4
  [ -n "${GPU_BENCH_TORCH:-}" ] && part torch-cuda 90 bash -c 'for p in fp32 bf16; do python3 tools/torch_step_bench.py \
    --config both --device cuda --precision $p --warmup 2 --repeats 5; done'
  [ -n "${GPU_BENCH_MORE:-}" ] && part gemm-f16 60 env TRM_WEBGPU_PRECISION=f16 $T bench gemm --backend webgpu
  [ -n "${GPU_BENCH_MORE:-}" ] && part step-gpu-b256 60 $T bench step --backend webgpu --preset mlp --batch 256 --no-torch
fi
part check-bf16 60 node tools/check-bf16-gemm.mjs # the CPU's bf16 GEMM (AMX tiles where present) vs float64
[ -n "${GPU_BENCH_MORE:-}" ] && part gemm-cpu-bf16 90 $T bench gemm --precision bf16
echo "done $(date -u +%T)"
