/** The sweep spec: parsing, defaults, one-line errors naming the file and key, and the expansion into runs. */
import { describe, expect, it } from 'vitest';
import { expandRuns, gridPoints, parseSweepSpec } from '../../src/report/spec.js';

const file = '/work/specs/study.yaml';
const good = `
data: ../data/sudoku6
preset: cpu-sudoku6
out: runs/study
seeds: [1, 2]
set: { steps: 1000 }
variants:
  - name: baseline
  - name: rand-n
    set: { L_cycles: 3 }
grid: { lr: [1e-3, 2e-3], ema: [true, false] }
eval:
  nsup: [1, 2, 4]
  k: [1, 4]
  aggregate: [single, cell-vote, oracle]
  init: random
  aas: 4
metrics: [exact_acc, single@k1, oracle@k4@nsup2, aas_z]
`;

describe('parseSweepSpec', () => {
  it('reads every key, with paths relative to the spec file', () => {
    const s = parseSweepSpec(good, file);
    expect(s.data).toBe('/work/data/sudoku6');
    expect(s.out).toBe('/work/specs/runs/study');
    expect(s.preset).toBe('cpu-sudoku6');
    expect(s.seeds).toEqual([1, 2]);
    expect(s.set).toEqual({ steps: 1000 });
    expect(s.variants).toEqual([
      { name: 'baseline', set: {} },
      { name: 'rand-n', set: { L_cycles: 3 } },
    ]);
    expect(s.grid).toEqual({ lr: [0.001, 0.002], ema: [true, false] }); // YAML 1.2: 1e-3 is a number
    expect(s.eval).toEqual({
      scaling: { nsup: [1, 2, 4], k: [1, 4], aggregate: ['single', 'cell-vote', 'oracle'] },
      aas: { nsup: 4 },
      init: 'random',
      limit: null,
    });
    expect(s.metrics).toEqual(['exact_acc', 'single@k1', 'oracle@k4@nsup2', 'aas_z']);
  });

  it('has defaults: seed 0, no variants or grid, no eval, default metrics; k defaults to [1]', () => {
    const s = parseSweepSpec('data: d\npreset: p\nout: o\neval: { nsup: [2, 4], aas: true }\n', file);
    expect(s.seeds).toEqual([0]);
    expect(s.variants).toEqual([]);
    expect(s.grid).toEqual({});
    expect(s.metrics).toBeNull();
    expect(s.eval).toEqual({
      scaling: { nsup: [2, 4], k: [1], aggregate: null },
      aas: { nsup: null },
      init: null,
      limit: null,
    });
    expect(parseSweepSpec('data: d\npreset: p\nout: o\n', file).eval).toBeNull();
  });

  const base = 'data: d\npreset: p\nout: o\n';
  it.each([
    ['data: d\npreset: p\n', /study\.yaml: out: expected a non-empty string, got nothing/],
    [base + 'seeds: [1, 1]', /seeds: expected distinct values, got \[1,1\]/],
    [base + 'seeds: [1.5]', /seeds: expected a non-empty list of integers >= 0, got \[1.5\]/],
    [base + 'seeds: 3', /seeds: expected a non-empty list of integers >= 0, got 3/],
    [
      base + 'sets: { lr: 1 }',
      /study\.yaml: sets: expected one of the keys data, preset, out, seeds, set, variants, grid, eval, metrics/,
    ],
    [base + 'set: { seed: 3 }', /set\.seed: expected no seed here: seeds come from the top-level 'seeds' list/],
    [base + 'set: { lr: [1, 2] }', /set\.lr: expected a number, true\/false or a string, got \[1,2\]/],
    [
      base + 'variants: [{ name: a }, { name: a }]',
      /variants\[1\]\.name: expected a name not used by another variant, got "a"/,
    ],
    [base + 'variants: [{ name: "a/b" }]', /variants\[0\]\.name: expected letters, digits/],
    [base + 'variants: [{ name: a, sets: {} }]', /variants\[0\]\.sets: expected only the keys name and set/],
    [base + 'grid: { lr: 0.1 }', /grid\.lr: expected a non-empty list of values, got 0.1/],
    [base + 'set: { lr: 1 }\ngrid: { lr: [1, 2] }', /grid\.lr: expected a key not also in 'set'/],
    [
      base + 'variants: [{ name: a, set: { lr: 1 } }]\ngrid: { lr: [1, 2] }',
      /grid\.lr: expected a key not also in variant 'a' set/,
    ],
    [base + 'eval: { k: [1, 2] }', /eval\.nsup: expected a list of supervision-step counts \(required with eval\.k\)/],
    [
      base + 'eval: { nsup: [1], aggregate: [vote] }',
      /eval\.aggregate: expected a non-empty list of single, cell-vote, puzzle-vote, confidence, vote-confidence, convergence, first-halt, best-q-any, oracle, got \["vote"\]/,
    ],
    [base + 'eval: { nsup: [0] }', /eval\.nsup: expected a non-empty list of integers >= 1, got \[0\]/],
    [base + 'eval: { aas: maybe }', /eval\.aas: expected true, false or a supervision-step count, got "maybe"/],
    [base + 'eval: { init: random }', /eval: expected nsup \(test-time scaling\) and\/or aas: true/],
    [base + 'metrics: [exact, single@k1]', /metrics: expected a list of metric names/],
    ['data: [unclosed', /study\.yaml: not valid YAML/],
  ])('rejects %j', (text, re) => {
    let msg = '';
    try {
      parseSweepSpec(text, file);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(re);
    expect(msg).toMatch(/^\/work\/specs\/study\.yaml: /);
    expect(msg.split('\n')).toHaveLength(1);
  });
});

describe('expandRuns', () => {
  it('crosses variants x grid x seeds with names from key=value and sets in precedence order', () => {
    const runs = expandRuns(parseSweepSpec(good, file));
    expect(runs).toHaveLength(2 * 4 * 2);
    expect([...new Set(runs.map(r => r.variant))]).toEqual([
      'baseline,lr=0.001,ema=true',
      'baseline,lr=0.001,ema=false',
      'baseline,lr=0.002,ema=true',
      'baseline,lr=0.002,ema=false',
      'rand-n,lr=0.001,ema=true',
      'rand-n,lr=0.001,ema=false',
      'rand-n,lr=0.002,ema=true',
      'rand-n,lr=0.002,ema=false',
    ]);
    const r = runs.find(x => x.variant === 'rand-n,lr=0.002,ema=false' && x.seed === 2)!;
    expect(r.dir).toBe('/work/specs/runs/study/rand-n,lr=0.002,ema=false/seed-2');
    expect(r.sets).toEqual(['steps=1000', 'L_cycles=3', 'lr=0.002', 'ema=false', 'seed=2']);
  });

  it('names a spec without variants or grid "default"; variants override the common set', () => {
    expect(
      expandRuns(parseSweepSpec('data: d\npreset: p\nout: o\nseeds: [3]\n', file)).map(r => [r.variant, r.sets]),
    ).toEqual([['default', ['seed=3']]]);
    const s = parseSweepSpec(
      'data: d\npreset: p\nout: o\nset: { lr: 1 }\nvariants: [{ name: a }, { name: b, set: { lr: 2 } }]\n',
      file,
    );
    expect(expandRuns(s).map(r => r.sets)).toEqual([
      ['lr=1', 'seed=0'],
      ['lr=2', 'seed=0'],
    ]);
  });

  it('gridPoints is the cartesian product, last key fastest', () => {
    expect(gridPoints({ a: [1, 2], b: ['x', 'y', 'z'] })).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 2, b: 'z' },
    ]);
    expect(gridPoints({})).toEqual([{}]);
  });
});
