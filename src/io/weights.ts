/**
 * weights.ts: model weights <-> safetensors with the official state_dict keys. Loading accepts
 * the `_orig_mod.model.` prefix of a torch.compile'd official checkpoint and BF16 H_init/L_init.
 * Not here: optimizer state and the run config (src/train/).
 */
import { readSafetensors, toF32, writeSafetensors, type WriteTensor } from './safetensors.js';
import type { TrmConfig } from '../model/config.js';
import { upload } from '../kernels/core.js';
import {
  hostWeightsSync,
  loadStateDict,
  type NamedTensor,
  paramSpec,
  specSize,
  stateDict,
  type Weights,
  weightsView,
} from '../model/params.js';

/** Read a safetensors checkpoint into a new parameter block for `c`. Tensors that are not model
 *  tensors are errors unless allowExtra (e.g. a file that also holds gradients or outputs). */
export function loadWeights(path: string, c: TrmConfig, allowExtra = false): Weights {
  const file = readSafetensors(path);
  const tensors = new Map<string, NamedTensor>();
  for (const [k, t] of file.tensors) tensors.set(k, { shape: t.shape, data: toF32(t, `${path}: ${k}`) });
  const host = weightsView(c, new Float32Array(specSize(paramSpec(c))));
  loadStateDict(host, tensors, path, allowExtra);
  return weightsView(c, upload(host.data));
}

/** Write the weights with the unprefixed official keys (prefixed: as a torch.compile'd checkpoint). */
export function saveWeights(path: string, w: Weights, metadata: Record<string, string> = {}, prefixed = false): void {
  const out = new Map<string, WriteTensor>();
  for (const [k, t] of stateDict(hostWeightsSync(w), prefixed)) out.set(k, { shape: t.shape, data: t.data });
  writeSafetensors(path, out, { format: 'pt', ...metadata });
}
