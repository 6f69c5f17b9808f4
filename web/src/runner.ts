/**
 * runner.ts: the page's handle on the model worker (worker.ts): load weights, run chains with a
 * callback per step record, in request order. One worker per page.
 */
import type { TrmConfig } from '../../src/model/config.js';
import type { ChainOptions, StepRecord } from './engine.js';

interface Pending {
  onStep?: (chain: number, rec: StepRecord) => void;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class Runner {
  private worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  private pending = new Map<number, Pending>();
  private next = 1;

  constructor() {
    this.worker.onmessage = (ev: MessageEvent<{ type: string; req: number; [k: string]: unknown }>) => {
      const m = ev.data,
        p = this.pending.get(m.req);
      if (!p) return;
      if (m.type === 'step') {
        p.onStep?.(m.chain as number, m.rec as StepRecord);
        return;
      }
      this.pending.delete(m.req);
      if (m.type === 'error') p.reject(new Error(m.message as string));
      else p.resolve(m);
    };
    this.worker.onerror = ev => {
      for (const p of this.pending.values()) p.reject(new Error(`model worker failed: ${ev.message}`));
      this.pending.clear();
    };
  }

  private call<T>(msg: Record<string, unknown>, onStep?: Pending['onStep']): Promise<T> {
    const req = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req, { onStep, resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, req });
    });
  }

  /** Ends the worker (the page is left). */
  terminate(): void {
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(new Error('the page was left'));
    this.pending.clear();
  }

  /** The device the worker computes on, in words. */
  async label(prefer: 'auto' | 'portable' = 'auto'): Promise<string> {
    return (await this.call<{ label: string }>({ type: 'hello', prefer })).label;
  }

  /** Weights into the worker; the resolved config back. */
  async load(id: string, bytes: Uint8Array, config: TrmConfig): Promise<TrmConfig> {
    return (await this.call<{ config: TrmConfig }>({ type: 'load', id, bytes, config })).config;
  }

  /** k chains on `puzzle`; onStep sees each record as the worker finishes it. */
  async run(
    id: string,
    puzzle: Uint8Array,
    opts: Omit<ChainOptions, 'onStep'>,
    onStep: (chain: number, rec: StepRecord) => void,
  ): Promise<void> {
    await this.call({ type: 'run', id, puzzle, opts }, onStep);
  }
}
