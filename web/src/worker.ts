/**
 * worker.ts: the model runs here, off the page's main thread, so the page stays responsive
 * while a large model computes. The device: WebGPU (src/webgpu) when the browser has an adapter,
 * else the portable TypeScript kernels; `prefer: 'portable'` skips WebGPU.
 * Messages (all answered with the request's `req`):
 *   {type: 'hello', prefer}                 -> {type: 'hello', label}      the device in use
 *   {type: 'load', id, bytes, config}       -> {type: 'loaded', config}    weights into the device
 *   {type: 'run', id, puzzle, opts}         -> {type: 'step', chain, rec}* then {type: 'done'}
 * and {type: 'error', message} on failure.
 */
import {
  type ChainOptions,
  type DeviceChoice,
  type Model,
  modelFromBytes,
  pickDevice,
  registerGpuDevice,
  runChains,
} from './engine.js';
import type { TrmConfig } from '../../src/model/config.js';
import { createWebGpuDevice } from '../../src/webgpu/index.js';

type Msg =
  | { type: 'hello'; req: number; prefer?: 'auto' | 'portable' }
  | { type: 'load'; req: number; id: string; bytes: Uint8Array; config: TrmConfig }
  | { type: 'run'; req: number; id: string; puzzle: Uint8Array; opts: Omit<ChainOptions, 'onStep'> };

const scope = self as unknown as { postMessage(m: unknown): void; onmessage: ((ev: MessageEvent<Msg>) => void) | null };
const models = new Map<string, Model>();
let device: Promise<DeviceChoice> | null = null;

scope.onmessage = ev => {
  const m = ev.data;
  void (async () => {
    try {
      if (!device) {
        // the one call that plugs the GPU in: tried first, portable kernels when it gives null or throws
        if (m.type !== 'hello' || m.prefer !== 'portable')
          registerGpuDevice(async () => ('gpu' in navigator ? createWebGpuDevice() : null));
        device = pickDevice();
      }
      const { label } = await device;
      if (m.type === 'hello') scope.postMessage({ type: 'hello', req: m.req, label });
      else if (m.type === 'load') {
        const model = modelFromBytes(m.bytes, m.config, m.id);
        models.set(m.id, model);
        scope.postMessage({ type: 'loaded', req: m.req, config: model.config });
      } else if (m.type === 'run') {
        const model = models.get(m.id);
        if (!model) throw new Error(`model '${m.id}' is not loaded`);
        await runChains(model, m.puzzle, {
          ...m.opts,
          onStep: (chain, rec) => {
            scope.postMessage({ type: 'step', req: m.req, chain, rec });
          },
        });
        scope.postMessage({ type: 'done', req: m.req });
      }
    } catch (e) {
      scope.postMessage({ type: 'error', req: m.req, message: (e as Error).message });
    }
  })();
};
