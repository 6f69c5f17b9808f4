/**
 * env.ts: the environment variables trm reads, checked once at start-up. A value the kernels
 * would silently ignore (TRM_THREADS=abc, TRM_ISA=bogus, TRM_KERNELS=native) gives one warning
 * line saying what is used instead; the run goes on, since these only choose speed, not results.
 */
import { availableParallelism } from 'node:os';

const ISAS = ['portable', 'avx2', 'avx512'];
/** native/threadpool.h kMaxThreads */
const MAX_THREADS = 256;

/** Warnings (without the `trm: warning: ` prefix) for the environment `env`. */
export function environmentWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  const threads = env.TRM_THREADS;
  if (
    threads !== undefined &&
    threads !== '' &&
    !(/^\d+$/.test(threads.trim()) && Number(threads) >= 1 && Number(threads) <= MAX_THREADS)
  ) {
    const v = parseInt(threads, 10); // what the addon's atoi reads
    out.push(
      `TRM_THREADS=${JSON.stringify(threads)} is not an integer in [1, ${MAX_THREADS}]; ` +
        (v >= 1 && v <= MAX_THREADS
          ? `read as ${v}`
          : `ignored (using ${availableParallelism()} threads, one per core)`),
    );
  }
  const isa = env.TRM_ISA;
  if (isa !== undefined && isa !== '' && !ISAS.includes(isa))
    out.push(
      `TRM_ISA=${JSON.stringify(isa)} is not one of ${ISAS.join(', ')}; ignored (using the best path this CPU supports)`,
    );
  const k = env.TRM_KERNELS;
  if (k !== undefined && k !== '' && k !== 'ref')
    out.push(`TRM_KERNELS=${JSON.stringify(k)}: the only value is 'ref' (the TypeScript reference kernels); ignored`);
  return out;
}
