/** tools/convert_official_checkpoint.py: a torch state_dict with the official keys -> safetensors that trm loads unchanged. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/kernels/index.js';
import { OFFICIAL_PREFIX, paramSpec, resolveConfig, type TrmConfig } from '../../src/model/index.js';
import { loadModel } from '../../src/train/checkpoint.js';

const py = '/usr/bin/python3';
const hasTorch = existsSync(py) && spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

// Writes a state_dict like the official pretrain.py (prefixed keys, bf16 H_init/L_init) and the values as float32.
const makeOfficial = `
import json, sys, torch
spec, pt, ref = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
torch.manual_seed(0)
sd, raw = {}, b""
for name, shape in spec:
    t = torch.randn(*shape)
    if name.endswith("H_init") or name.endswith("L_init"): t = t.to(torch.bfloat16)
    sd["${OFFICIAL_PREFIX}" + name] = t
    raw += t.float().numpy().tobytes()
torch.save(sd, pt)
open(ref, "wb").write(raw)
`;

function roundTrip(c: TrmConfig, strip: boolean, seqLen?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'trm-convert-'));
  const spec = paramSpec(c).map(e => [e.name, e.shape]);
  let r = spawnSync(py, ['-c', makeOfficial, JSON.stringify(spec), join(dir, 'step_100'), join(dir, 'ref.bin')], {
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  r = spawnSync(
    py,
    [
      join(packageRoot, 'tools', 'convert_official_checkpoint.py'),
      join(dir, 'step_100'),
      join(dir, 'out.safetensors'),
      ...(strip ? ['--strip-prefix'] : []),
    ],
    { encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/wrote \d+ tensors/);
  const m = loadModel(join(dir, 'out.safetensors'), { H_cycles: c.H_cycles, L_cycles: c.L_cycles }, seqLen);
  const ref = new Float32Array(readFileSync(join(dir, 'ref.bin')).buffer.slice(0));
  return { m, ref };
}

describe.runIf(hasTorch)('convert_official_checkpoint.py', () => {
  it('TRM-MLP layout: loads unchanged, architecture inferred from the shapes', () => {
    const c = resolveConfig({
      hidden_size: 32,
      mlp_t: true,
      pos_encodings: 'none',
      puzzle_emb_ndim: 32,
      seq_len: 16,
      vocab_size: 6,
      L_cycles: 4,
    });
    const { m, ref } = roundTrip(c, false);
    expect(m.config).toEqual(c);
    expect(m.weights.data).toEqual(ref);
  }, 60_000);
  it('TRM-Att layout with stripped keys: loads with seq_len from the data', () => {
    const c = resolveConfig({ hidden_size: 32, num_heads: 8, puzzle_emb_ndim: 32, seq_len: 16, vocab_size: 6 });
    const { m, ref } = roundTrip(c, true, 16);
    expect(m.config).toEqual(c); // num_heads is not a shape: the official 8 unless --set
    expect(m.weights.data).toEqual(ref);
  }, 60_000);
});
