/**
 * Layers: forward against plain float64 loops written as the official code reads (explicit
 * transposes for the token mixer, per-head attention with rotate-half RoPE), and backward
 * against central finite differences of a random projection of the output (sampled entries).
 */
import { describe, expect, it } from 'vitest';
import { attentionBackward, attentionForward, ropeTables, type AttentionScratch } from '../../src/nn/attention.js';
import { mlpBackward, mlpForward } from '../../src/nn/mlp.js';
import { tokenMixerBackward, tokenMixerForward } from '../../src/nn/token-mixer.js';
import { lmHeadBackward, lmHeadForward, qHeadBackward, qHeadForward } from '../../src/nn/heads.js';
import { randn, rng } from '../helpers.js';

const silu = (v: number) => v / (1 + Math.exp(-v));

/** float64 SwiGLU over the last axis of rows (n, w): down(silu(gate) * up). */
function swiglu64(x: Float64Array, n: number, w: number, wgu: Float32Array, wd: Float32Array, I: number): Float64Array {
  const out = new Float64Array(n * w);
  for (let r = 0; r < n; r++) {
    const h = new Float64Array(I);
    for (let i = 0; i < I; i++) {
      let g = 0,
        u = 0;
      for (let k = 0; k < w; k++) {
        g += wgu[i * w + k] * x[r * w + k];
        u += wgu[(I + i) * w + k] * x[r * w + k];
      }
      h[i] = silu(g) * u;
    }
    for (let o = 0; o < w; o++) {
      let s = 0;
      for (let i = 0; i < I; i++) s += wd[o * I + i] * h[i];
      out[r * w + o] = s;
    }
  }
  return out;
}

/** Sampled central differences of sum(R * f()) w.r.t. each tensor, against the analytic gradients. */
function fdCheck(
  name: string,
  f: () => Float32Array,
  R: Float32Array,
  pairs: Array<[string, Float32Array, Float32Array]>,
): void {
  const r = rng(5),
    h = 1e-2;
  const L = () => {
    const o = f();
    let s = 0;
    for (let i = 0; i < o.length; i++) s += o[i] * R[i];
    return s;
  };
  for (const [pname, p, g] of pairs) {
    let gmax = 0;
    for (const v of g) gmax = Math.max(gmax, Math.abs(v));
    for (let t = 0; t < 6; t++) {
      const i = Math.floor(r() * p.length),
        old = p[i];
      p[i] = old + h;
      const lp = L();
      p[i] = old - h;
      const lm = L();
      p[i] = old;
      const fd = (lp - lm) / (2 * h);
      expect(Math.abs(fd - g[i]), `${name} d/d${pname}[${i}]: analytic ${g[i]} vs fd ${fd}`).toBeLessThan(
        2e-2 * (Math.abs(g[i]) + 0.1 * gmax) + 1e-4,
      );
    }
  }
}

describe('token mixer (mlp_t)', () => {
  const B = 2,
    S = 7,
    D = 5,
    Is = 6;
  const x = randn(B * S * D, 1),
    wgu = randn(2 * Is * S, 2, 0.4),
    wd = randn(S * Is, 3, 0.4);
  const acts = { gateUp: new Float32Array(B * 2 * Is * D), h: new Float32Array(B * Is * D) };
  const out = new Float32Array(B * S * D);
  const fwd = () => {
    tokenMixerForward(out, acts, x, { gateUp: wgu, down: wd }, { B, S, D, Is });
    return out;
  };
  it('forward equals transpose -> SwiGLU over S -> transpose', () => {
    fwd();
    const want = new Float64Array(B * S * D);
    for (let b = 0; b < B; b++) {
      const xt = new Float64Array(D * S); // (D, S) = x_b^T
      for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) xt[d * S + s] = x[b * S * D + s * D + d];
      const yt = swiglu64(xt, D, S, wgu, wd, Is);
      for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) want[b * S * D + s * D + d] = yt[d * S + s];
    }
    expect(out).toBeAllclose(want, { rtol: 1e-5, atol: 1e-6 });
  });
  it('backward matches finite differences', () => {
    const R = randn(B * S * D, 4),
      dx = new Float32Array(B * S * D),
      dwgu = new Float32Array(wgu.length),
      dwd = new Float32Array(wd.length);
    fwd();
    const s = {
      dh: new Float32Array(B * Is * D),
      dgateUp: new Float32Array(B * 2 * Is * D),
      wDownT: new Float32Array(Is * S),
      wGateUpT: new Float32Array(2 * Is * S),
    };
    tokenMixerBackward(dx, { gateUp: dwgu, down: dwd }, R, acts, x, { gateUp: wgu, down: wd }, { B, S, D, Is }, s);
    fdCheck('mixer', fwd, R, [
      ['x', x, dx],
      ['gate_up', wgu, dwgu],
      ['down', wd, dwd],
    ]);
  });
});

describe('channel SwiGLU MLP', () => {
  const N = 6,
    D = 5,
    I = 4;
  const x = randn(N * D, 11),
    wgu = randn(2 * I * D, 12, 0.5),
    wd = randn(D * I, 13, 0.5);
  const acts = { gateUp: new Float32Array(N * 2 * I), h: new Float32Array(N * I) },
    out = new Float32Array(N * D);
  const fwd = () => {
    mlpForward(out, acts, x, { gateUp: wgu, down: wd }, { N, D, I });
    return out;
  };
  it('forward and backward', () => {
    expect(fwd()).toBeAllclose(swiglu64(Float64Array.from(x), N, D, wgu, wd, I), { rtol: 1e-5, atol: 1e-6 });
    const R = randn(N * D, 14),
      dx = new Float32Array(N * D),
      dwgu = new Float32Array(wgu.length),
      dwd = new Float32Array(wd.length);
    mlpBackward(
      dx,
      { gateUp: dwgu, down: dwd },
      R,
      acts,
      x,
      { gateUp: wgu, down: wd },
      { N, D, I },
      {
        dh: new Float32Array(N * I),
        dgateUp: new Float32Array(N * 2 * I),
      },
    );
    fdCheck('mlp', fwd, R, [
      ['x', x, dx],
      ['gate_up', wgu, dwgu],
      ['down', wd, dwd],
    ]);
  });
});

describe('attention with RoPE', () => {
  const B = 2,
    S = 5,
    H = 2,
    hd = 4,
    D = H * hd,
    E = D;
  const x = randn(B * S * D, 21),
    wqkv = randn(3 * E * D, 22, 0.5),
    wo = randn(D * E, 23, 0.5);
  const rope = ropeTables(S, hd, 10000);
  const acts = {
    q: new Float32Array(B * S * E),
    k: new Float32Array(B * S * E),
    v: new Float32Array(B * S * E),
    att: new Float32Array(B * H * S * S),
    ctx: new Float32Array(B * S * E),
  };
  const s: AttentionScratch = {
    qkv: new Float32Array(B * S * 3 * E),
    scores: new Float32Array(B * H * S * S),
    datt: new Float32Array(B * H * S * S),
    dq: new Float32Array(B * S * E),
    dk: new Float32Array(B * S * E),
    dv: new Float32Array(B * S * E),
    dctx: new Float32Array(B * S * E),
  };
  const out = new Float32Array(B * S * D);
  const fwd = () => {
    attentionForward(out, acts, x, { qkv: wqkv, o: wo }, rope, { B, S, D, H, hd }, s);
    return out;
  };
  it('forward equals per-head softmax(q k^T / sqrt(hd)) v with rotate-half RoPE', () => {
    fwd();
    const want = new Float64Array(B * S * D);
    for (let b = 0; b < B; b++) {
      const proj = (t: number, j: number) => {
        let a = 0;
        for (let k = 0; k < D; k++) a += wqkv[j * D + k] * x[(b * S + t) * D + k];
        return a;
      };
      const ctx = new Float64Array(S * E);
      for (let h = 0; h < H; h++) {
        const q: number[][] = [],
          k: number[][] = [],
          v: number[][] = [];
        for (let t = 0; t < S; t++) {
          const qt = [],
            kt = [],
            vt = [];
          for (let i = 0; i < hd; i++) {
            qt.push(proj(t, h * hd + i));
            kt.push(proj(t, E + h * hd + i));
            vt.push(proj(t, 2 * E + h * hd + i));
          }
          const rot = (u: number[]) =>
            u.map((_, i) => {
              const ang = t * Math.pow(10000, -(2 * (i % (hd / 2))) / hd);
              const rh = i < hd / 2 ? -u[i + hd / 2] : u[i - hd / 2];
              return u[i] * Math.cos(ang) + rh * Math.sin(ang);
            });
          q.push(rot(qt));
          k.push(rot(kt));
          v.push(vt);
        }
        for (let t = 0; t < S; t++) {
          const sc = k.map(kk => kk.reduce((a, kv, i) => a + kv * q[t][i], 0) / Math.sqrt(hd));
          const m = Math.max(...sc),
            e = sc.map(z => Math.exp(z - m)),
            z = e.reduce((a, c) => a + c, 0);
          for (let i = 0; i < hd; i++) ctx[t * E + h * hd + i] = e.reduce((a, p, j) => a + (p / z) * v[j][i], 0);
        }
      }
      for (let t = 0; t < S; t++)
        for (let o = 0; o < D; o++) {
          let a = 0;
          for (let i = 0; i < E; i++) a += wo[o * E + i] * ctx[t * E + i];
          want[(b * S + t) * D + o] = a;
        }
    }
    expect(out).toBeAllclose(want, { rtol: 1e-4, atol: 1e-5 });
  });
  it('backward matches finite differences', () => {
    const R = randn(B * S * D, 24),
      dx = new Float32Array(B * S * D),
      dqkv = new Float32Array(wqkv.length),
      dwo = new Float32Array(wo.length);
    fwd();
    attentionBackward(dx, { qkv: dqkv, o: dwo }, R, acts, x, { qkv: wqkv, o: wo }, rope, { B, S, D, H, hd }, s);
    fdCheck('attention', fwd, R, [
      ['x', x, dx],
      ['qkv', wqkv, dqkv],
      ['o', wo, dwo],
    ]);
  });
});

describe('heads', () => {
  it('lm_head reads positions P.., q_head position 0 with bias; backward matches', () => {
    const B = 2,
      S = 5,
      P = 2,
      D = 4,
      V = 3,
      L = S - P;
    const y = randn(B * S * D, 31),
      w = randn(V * D, 32),
      wq = randn(2 * D, 33),
      bq = new Float32Array([0.5, -1]);
    const logits = new Float32Array(B * L * V),
      q = new Float32Array(2 * B);
    lmHeadForward(logits, y, w, B, S, P, D, V);
    qHeadForward(q, y, wq, bq, B, S, D);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < L; t++)
        for (let v = 0; v < V; v++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += y[(b * S + P + t) * D + d] * w[v * D + d];
          expect(logits[(b * L + t) * V + v]).toBeCloseTo(s, 5);
        }
    for (let b = 0; b < B; b++)
      for (let j = 0; j < 2; j++) {
        let s = bq[j];
        for (let d = 0; d < D; d++) s += y[b * S * D + d] * wq[j * D + d];
        expect(q[2 * b + j]).toBeCloseTo(s, 5);
      }
    const R1 = randn(B * L * V, 34),
      R2 = randn(2 * B, 35);
    const dy = new Float32Array(B * S * D),
      dw = new Float32Array(V * D),
      dwq = new Float32Array(2 * D),
      dbq = new Float32Array(2);
    lmHeadBackward(dy, dw, R1, y, w, B, S, P, D, V);
    qHeadBackward(dy, dwq, dbq, R2, y, wq, B, S, D);
    const both = () => {
      lmHeadForward(logits, y, w, B, S, P, D, V);
      qHeadForward(q, y, wq, bq, B, S, D);
      const o = new Float32Array(logits.length + q.length);
      o.set(logits);
      o.set(q, logits.length);
      return o;
    };
    const R = new Float32Array(R1.length + R2.length);
    R.set(R1);
    R.set(R2, R1.length);
    fdCheck('heads', both, R, [
      ['y', y, dy],
      ['lm_head', w, dw],
      ['q_head.weight', wq, dwq],
      ['q_head.bias', bq, dbq],
    ]);
  });
});
