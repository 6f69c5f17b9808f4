/**
 * Parity with the PyTorch reference (tools/trm_ref.py via tools/make_model_fixtures.py): two
 * supervision steps of tiny MLP and attention models in fp32, every output and every parameter
 * gradient compared by name. Tolerance: forward |a - b| <= 2e-5 + 1e-4|b|; each gradient tensor
 * max|a - b| <= 1e-4 * max|b| (+1e-7), i.e. relative to the tensor's scale.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors, toF32, toI32, type Tensor } from '../../src/io/safetensors.js';
import { nativeBackend, useBackend } from '../../src/kernels/index.js';
import { loadWeights } from '../../src/io/weights.js';
import { allocActs, resolveConfig, stepLosses, supervisionStep, weightsView } from '../../src/model/index.js';
import { host, staticCarry } from '../helpers.js';

const dir = join(__dirname, '..', 'fixtures', 'model');
const backends = [...(nativeBackend ? ['native' as const] : []), 'ref' as const];
afterAll(() => useBackend(nativeBackend ? 'native' : 'ref'));

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  let diff = 0,
    scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

describe.each(backends)('parity with PyTorch (%s kernels)', backend => {
  for (const variant of ['tiny-mlp', 'tiny-att']) {
    it(variant, () => {
      useBackend(backend);
      const path = join(dir, `${variant}.safetensors`);
      const file = readSafetensors(path);
      const T = (k: string): Tensor => {
        const t = file.tensors.get(k);
        if (!t) throw new Error(`fixture lacks ${k}`);
        return t;
      };
      const F = (k: string) => toF32(T(k), k);
      const c = resolveConfig(JSON.parse(file.metadata.config));
      const w = loadWeights(path, c, true);
      const B = T('in.puzzle_ids').shape[0];
      const batch = {
        inputs: toI32(T('in.inputs')),
        labels: toI32(T('in.labels')),
        puzzleIds: toI32(T('in.puzzle_ids')),
      };
      const a = allocActs(c, B);
      const S = a.d.S;
      const report: string[] = [];
      const close = (name: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = 1e-4, atol = 2e-5) => {
        report.push(`${name} ${maxDiff(got, want).diff.toExponential(2)}`);
        expect(got, name).toBeAllclose(want, { rtol, atol });
      };

      // step 1 from the initial carry (H_init, L_init)
      const carry = staticCarry(c, w, B, S);
      const r1 = supervisionStep(c, w, a, carry, batch, null);
      close('step1.y', host(carry.y), F('step1.y'));
      close('step1.z', host(carry.z), F('step1.z'));
      expect(stepLosses(r1).loss).toBeCloseTo(F('step1.loss')[0], 4);

      // step 2 from torch's step-1 carry, with gradients of the batch-summed loss
      host(carry.y).set(F('step1.y'));
      host(carry.z).set(F('step1.z'));
      const g = weightsView(c);
      const r = supervisionStep(c, w, a, carry, batch, g, 1),
        q = host(r.q);
      close('logits', host(r.logits), F('out.logits'));
      close(
        'q_halt',
        Array.from({ length: B }, (_, b) => q[2 * b]),
        F('out.q_halt'),
      );
      close(
        'q_continue',
        Array.from({ length: B }, (_, b) => q[2 * b + 1]),
        F('out.q_continue'),
      );
      close('y', host(carry.y), F('out.y'));
      close('z', host(carry.z), F('out.z'));
      close('x', host(a.x), F('out.x'));
      const l = stepLosses(r);
      close('loss', [l.loss, l.lmLoss, l.qHaltLoss], [F('out.loss')[0], F('out.lm_loss')[0], F('out.q_halt_loss')[0]]);
      expect(Array.from(host(r.seqCorrect))).toEqual(Array.from(toI32(T('out.seq_is_correct'))));
      expect(Array.from(host(r.preds))).toEqual(Array.from(toI32(T('out.preds'))));
      expect(host(r.seqCorrect)[0]).toBe(1);

      // every parameter gradient, and the puzzle-embedding rows (summed per id)
      let checked = 0;
      for (const e of g.spec) {
        const key = e.name === 'inner.puzzle_emb.weights' ? 'grad.inner.puzzle_emb.weights' : `grad.${e.name}`;
        if (!file.tensors.has(key)) {
          expect(e.trainable, `gradient ${key} missing from the fixture`).toBe(false);
          continue;
        }
        const got = g.byName.get(e.name)!,
          want = F(key);
        const { diff, scale } = maxDiff(host(got), want);
        report.push(`${key} ${(diff / (scale || 1)).toExponential(2)} rel`);
        expect(diff, `${key}: max diff ${diff} vs scale ${scale}`).toBeLessThanOrEqual(1e-4 * scale + 1e-7);
        checked++;
      }
      expect(checked).toBe(g.spec.filter(e => e.trainable).length + 1);
      console.log(`${variant} (${backend}): ${report.join(', ')}`);
    });
  }
});
