/**
 * The software prefetches the native kernels ask for are in the binary. GCC -O3 has twice compiled a
 * loop of nothing but prefetches to nothing without a word: the bf16 SwiGLU backward's row prefetches
 * (fourteenth session) and the AMX kernel's prefetch of the C tile below (lost from 5aa702b until
 * e72089b, which cost the channel products 12-18%). Results never change, so no other test can see
 * it. This one disassembles the addon (objdump, from binutils, which the native build itself needs)
 * and counts the prefetch instructions in the functions that carry them: at least one per prefetch
 * written in the source (after inlining: a helper called twice is two). Functions are matched by
 * name, lambdas included, so a different inlining choice moves the count but not below the bound.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { addon, addonPath } from '../../src/kernels/index.js';

/** Prefetch instructions per demangled function name (lambdas and clones under their own names). */
function prefetchesByFunction(file: string): Map<string, number> | string {
  const run = spawnSync('objdump', ['-d', '--no-show-raw-insn', '-C', file], {
    encoding: 'utf8',
    maxBuffer: 512 << 20,
  });
  if (run.error) return `objdump not runnable (${run.error.message})`;
  if (run.status !== 0) return `objdump failed: ${run.stderr.split('\n')[0]}`;
  const counts = new Map<string, number>();
  let fn = '';
  for (const line of run.stdout.split('\n')) {
    const head = /^[0-9a-f]+ <(.*)>:$/.exec(line);
    if (head) {
      fn = head[1];
      counts.set(fn, 0);
    } else if (fn && /\tprefetch/.test(line)) counts.set(fn, (counts.get(fn) ?? 0) + 1);
  }
  return counts;
}

/** Prefetches in every function whose name contains `part`, summed; null when none has that name. */
function countIn(counts: Map<string, number>, part: string): number | null {
  let found = false,
    n = 0;
  for (const [name, c] of counts)
    if (name.includes(part)) {
      found = true;
      n += c;
    }
  return found ? n : null;
}

// name part -> the prefetches its source writes (the lower bound). Sites: native/gemm/gemm.cpp
// (NextReads::step in gemm_one; the fused kernels' row and next-item prefetches), native/ops/fused.cpp
// (NextWrites::share, from swiglu_item and swiglu_prefetching), native/gemm/kernel_avx512_bf16.cpp,
// native/gemm/kernel_avx2.cpp.
const expected: [string, number][] = [
  ['gemm_one(', 1],
  ['trm::gemm_swiglu(', 3],
  ['trm::linear_swiglu(', 2],
  ['trm::linear_swiglu_backward(', 10],
  ['trm::gemm_swiglu_backward(', 11],
  ['trm::token_mixer_norm_forward(', 2],
  ['ukr_bf16_14x32(', 3],
  // kernel_avx2.cpp: the full 6-row tile on packed panels asks for its C rows (2 per row: a loop of
  // nothing but prefetches, the kind GCC dropped before), and the A-in-place tile for the next strip
  ['ukr_body<16l, false, 6, false, false>', 12],
  ['ukr_6x16_direct_a_next(', 1],
];
// built only where the compiler targets x86-64 (kernel_x86_absent.cpp elsewhere)
const amxKernel: [string, number] = ['ukr_amx_32x32(', 2];

const x64 = process.arch === 'x64';
describe.skipIf(!addon || !addonPath || !x64)('software prefetches survive compilation (x86-64 native build)', () => {
  const counts = addonPath ? prefetchesByFunction(addonPath) : 'no addon';
  it.for([...expected, amxKernel])('%s holds at least %i prefetch instructions', ([part, least], ctx) => {
    if (typeof counts === 'string') return ctx.skip(`SKIPPED: ${counts}`);
    // a stripped build keeps its exported symbols only: no internal (anonymous namespace) function
    if (![...counts.keys()].some(n => n.includes('(anonymous namespace)')))
      return ctx.skip('SKIPPED: the addon has no local symbols (a stripped build)');
    const n = countIn(counts, part);
    // the AMX kernel is compiled only by GCC >= 11 / clang >= 12 (TRM_HAVE_AMX); where it runs, it exists
    if (n === null && part === amxKernel[0] && !addon?.info().amx)
      return ctx.skip('SKIPPED: this addon was built without the AMX kernel');
    expect(n, `no function named like ${part} in ${addonPath}`).not.toBeNull();
    expect(n).toBeGreaterThanOrEqual(least);
  });
});
