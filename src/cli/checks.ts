/**
 * checks.ts: checks `trm eval` and `trm solve` make on a checkpoint before and after loading it,
 * so that a damaged or mismatched checkpoint is one line naming the file at fault:
 *  - checkpoint.json against its schema (io/schema.ts), or a bare safetensors file's
 *    `trm_model_config` metadata; the config it implies must fit in memory (model/memory.ts);
 *  - a sidecar's config against the tensor shapes in model.safetensors' header (a sidecar that
 *    does not belong to the weights names both files);
 *  - after loading: no NaN or infinite weight (a diverged run scores 0% silently otherwise).
 */
import { read } from '../kernels/index.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TrmError } from '../errors.js';
import { readSafetensorsHeader } from '../io/safetensors.js';
import { parseJson, partialModelConfigSchema, readJsonFile, sidecarSchema } from '../io/schema.js';
import { resolveConfig, type TrmConfig } from '../model/config.js';
import { checkModelFits } from '../model/memory.js';
import { canonicalName, paramSpec, type Weights } from '../model/params.js';

const bad = (msg: string): never => {
  throw new TrmError('TRM_BAD_CHECKPOINT', msg);
};

/** The model config `where` describes, with its errors naming `where`. */
function configFrom(fields: Record<string, unknown>, over: Partial<TrmConfig>, where: string): TrmConfig {
  try {
    return resolveConfig({ ...fields, ...over });
  } catch (e) {
    if (e instanceof TrmError) bad(`${where}: ${e.message.replace(/^model config: /, '')}`);
    throw e;
  }
}

/**
 * Check the checkpoint at `path` (run directory, checkpoint directory or safetensors file) before
 * loading it. Paths that do not exist or are not checkpoints are left to the loader's messages.
 */
export function checkCheckpoint(path: string, over: Partial<TrmConfig> = {}): void {
  if (!existsSync(path)) return;
  const isFile = statSync(path).isFile();
  let dir = isFile ? dirname(path) : path;
  if (!isFile && !existsSync(join(dir, 'checkpoint.json')) && existsSync(join(dir, 'latest')))
    dir = join(dir, 'checkpoints', readFileSync(join(dir, 'latest'), 'utf8').trim());
  const sideFile = join(dir, 'checkpoint.json');
  const file = isFile ? path : join(dir, 'model.safetensors');
  if (!existsSync(file)) return;
  const useSidecar = existsSync(sideFile) && (!isFile || basename(path) === 'model.safetensors');
  const header = readSafetensorsHeader(file);
  if (useSidecar) {
    // the stored config alone: --set may change loop counts only, which no shape or size depends on
    const side = readJsonFile(sideFile, sidecarSchema, 'TRM_BAD_CHECKPOINT');
    const config = configFrom(side.model_config, {}, `${sideFile}: model_config`);
    checkModelFits(config, 'inference', sideFile);
    const shapes = new Map<string, number[]>();
    for (const [k, t] of header.tensors) shapes.set(canonicalName(k), t.shape);
    for (const e of paramSpec(config)) {
      const got = shapes.get(e.name);
      if (got && (got.length !== e.shape.length || got.some((v, i) => v !== e.shape[i])))
        bad(
          `${sideFile} does not match ${file}: its config (hidden_size ${config.hidden_size}, vocab_size ${config.vocab_size}, ` +
            `seq_len ${config.seq_len}, L_layers ${config.L_layers}) needs '${e.name}' of shape [${e.shape.join(', ')}], the file holds [${got.join(', ')}]`,
        );
    }
  } else if (header.metadata.trm_model_config !== undefined) {
    // a partial config completed by defaults and --set, as the loader does; the loader names the file on a shape mismatch
    const where = `${file}: metadata trm_model_config`;
    const config = configFrom(
      parseJson(header.metadata.trm_model_config, partialModelConfigSchema, where, 'TRM_BAD_CHECKPOINT'),
      over,
      where,
    );
    checkModelFits(config, 'inference', where);
  }
}

/** Throw when the loaded weights hold NaN or infinite values, naming the first tensor that does. */
export async function checkFiniteWeights(w: Weights, file: string): Promise<void> {
  let count = 0,
    first = -1;
  const d = await read(w.data);
  for (let i = 0; i < d.length; i++)
    if (!Number.isFinite(d[i])) {
      count++;
      if (first < 0) first = i;
    }
  if (!count) return;
  const t = w.spec.find(e => first >= e.offset && first < e.offset + e.size);
  bad(
    `${file}: the checkpoint holds ${count} non-finite weight${count > 1 ? 's' : ''} (NaN or infinity; first in '${t?.name ?? '?'}'): ` +
      'the run diverged before this save; evaluate an earlier checkpoint (RUN/checkpoints/step_*) or retrain with a lower lr',
  );
}
