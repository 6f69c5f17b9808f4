/**
 * solve.ts: the Solve page. Pick a checkpoint (its weights load into the page), enter a puzzle
 * (keyboard grid, pasted text or a dataset split), run k chains in the page and watch each
 * supervision step: the answer with changed cells and per-cell confidence, q_halt and where it
 * would halt, the chains side by side with their aggregate (the aggregators of `trm eval`), a 2-D
 * PCA of y and z per step and |z_t+1 - z_t|. The model runs in a Web Worker (runner.ts,
 * worker.ts); records come back per step and are drawn as they arrive.
 */
import type { TopLevelSpec } from 'vega-lite';
import { aggregate, AGGREGATORS, type Aggregator, needsHistory } from '../../src/experiments/aggregate.js';
import { consistencyProblem, geometry, parseGrid, sizeForCells, solutionProblem } from '../../src/data/sudoku/grid.js';
import { vocabSize } from '../../src/data/sudoku/tokens.js';
import { api, type Index } from './api.js';
import { chart } from './charts.js';
import { board, editor, type Editor, h } from './grid.js';
import type { StepRecord } from './engine.js';
import { Runner } from './runner.js';
import type { TrmConfig } from '../../src/model/config.js';
import { pca2 } from './pca.js';

type Agg = Exclude<Aggregator, 'oracle'>;
// the selectors that read a chain's history (convergence, first-halt, best-q-any) are trm eval's only
const AGGS = AGGREGATORS.filter(a => a !== 'oracle' && !needsHistory(a)) as Agg[];
const frame = () => new Promise<void>(r => requestAnimationFrame(() => setTimeout(r, 0)));

function field(label: string, control: HTMLElement, id: string, hint?: string): HTMLElement {
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, ...(hint ? [h('small', {}, hint)] : []));
}

function select(options: [string, string][], value?: string): HTMLSelectElement {
  const s = h('select');
  for (const [v, t] of options) s.append(h('option', { value: v }, t));
  if (value !== undefined) s.value = value;
  return s;
}

export async function solvePage(root: HTMLElement): Promise<() => void> {
  const index: Index = await api.index();
  const runner = new Runner();
  // ?device=portable in the page URL skips WebGPU
  const dev = {
    label: await runner.label(new URLSearchParams(location.search).get('device') === 'portable' ? 'portable' : 'auto'),
  };
  const models = new Map<string, TrmConfig>(); // checkpoints loaded into the worker, by id
  let model: { id: string; config: TrmConfig } | null = null,
    ed: Editor,
    n = 4;
  let runs: StepRecord[][] = [],
    puzzle: Uint8Array = new Uint8Array(16),
    solution: Uint8Array | null = null,
    step = 1,
    playing = false;

  const ckSel = select(
    index.checkpoints.map(c => [
      c.id,
      c.label ?? (c.run !== null && c.step !== null ? `${c.run} @ step ${c.step}` : c.id),
    ]),
  );
  const ckInfo = h('p', { class: 'note', id: 'model-info', 'aria-live': 'polite' });
  const sizeSel = select(
    [
      ['4', '4x4'],
      ['6', '6x6'],
      ['9', '9x9'],
    ],
    '4',
  );
  const text = h('textarea', { rows: '2', spellcheck: 'false', placeholder: 'e.g. 1..4.4....2.3..1' });
  const edHolder = h('div');
  const splitSel = select([
    ['', '(none)'],
    ...index.splits.map(s => [s.id, `${s.id} (${s.size ?? '?'}x${s.size ?? '?'})`] as [string, string]),
  ]);
  const pIdx = h('input', { type: 'number', min: '0', value: '0' });
  const loadBtn = h('button', { type: 'button', id: 'load-puzzle' }, 'Load puzzle');
  const kIn = h('input', { type: 'number', min: '1', max: '16', value: '1' });
  const initSel = select(
    [
      ['static', 'static (official H_init / L_init, as trm solve)'],
      ['random', 'random (as trm eval --init random)'],
    ],
    'static',
  );
  const seedIn = h('input', { type: 'number', min: '0', value: '0' });
  const nsupIn = h('input', { type: 'number', min: '1', max: '64', placeholder: 'halt_max_steps' });
  const aggSel = select(
    AGGS.map(a => [a, a]),
    'cell-vote',
  );
  const solveBtn = h('button', { type: 'submit', id: 'solve', class: 'primary' }, 'Solve');
  const error = h('p', { class: 'error', role: 'alert', id: 'error' });

  const stepIn = h('input', { type: 'range', min: '1', max: '1', value: '1', disabled: '' });
  const playBtn = h('button', { type: 'button', id: 'play', disabled: '' }, 'Play');
  const status = h('p', { id: 'status', 'aria-live': 'polite' }, 'Choose a checkpoint and a puzzle, then Solve.');
  const timing = h('p', { id: 'timing', class: 'note' });
  const mainHolder = h('div', { id: 'main-board' });
  const chainsHolder = h('div', { id: 'chains', class: 'chains' });
  const qChart = h('div', { class: 'chart', id: 'chart-q' }),
    dzChart = h('div', { class: 'chart', id: 'chart-dz' }),
    pcaChart = h('div', { class: 'chart', id: 'chart-pca' });

  const form = h(
    'form',
    { class: 'panel', 'aria-label': 'puzzle and model' },
    h('h2', {}, 'Model'),
    field('Checkpoint', ckSel, 'checkpoint'),
    ckInfo,
    h('p', { class: 'note', id: 'device' }, `Runs in this page on: ${dev.label}`),
    h('h2', {}, 'Puzzle'),
    field('Size', sizeSel, 'size'),
    edHolder,
    field('Puzzle as text (row by row; . or 0 for blanks)', text, 'puzzle-text'),
    ...(index.splits.length
      ? [field('Dataset split', splitSel, 'split'), field('Puzzle number', pIdx, 'puzzle-index'), loadBtn]
      : []),
    h('h2', {}, 'Chains'),
    field('Chains (k)', kIn, 'k', 'k > 1 needs random inits to differ'),
    field('Latent init', initSel, 'init'),
    field('Seed', seedIn, 'seed'),
    field('Supervision steps (N_sup)', nsupIn, 'nsup'),
    field('Aggregator (k > 1)', aggSel, 'aggregator'),
    solveBtn,
    error,
  );
  const results = h(
    'section',
    { class: 'panel results', 'aria-label': 'solution steps' },
    h('div', { class: 'stepbar' }, h('label', { for: 'step' }, 'Step'), stepIn, playBtn),
    status,
    timing,
    mainHolder,
    h('h3', {}, 'Chains'),
    chainsHolder,
    h('div', { class: 'charts' }, qChart, dzChart, pcaChart),
    h(
      'p',
      { class: 'note' },
      'Cell shading: the softmax probability of the predicted digit. Orange ring: changed at this step. Red underlined: differs from the given or the known solution.',
    ),
  );
  stepIn.id = 'step';
  root.replaceChildren(h('div', { class: 'solve' }, form, results));

  const setSize = (size: number, keep = '') => {
    n = size;
    sizeSel.value = String(size);
    ed = editor(size);
    ed.set(keep);
    ed.onChange = () => {
      text.value = ed.get();
    };
    edHolder.replaceChildren(h('p', { class: 'label' }, 'Puzzle grid'), ed.el);
    text.value = ed.get();
  };
  setSize(4);
  sizeSel.addEventListener('change', () => setSize(Number(sizeSel.value)));
  text.addEventListener('input', () => {
    const t = text.value.replace(/\s/g, '');
    const s = sizeForCells(t.length);
    if (s && s !== n) setSize(s, t);
    else ed.set(t);
    solution = null;
  });

  const loadModel = async () => {
    const id = ckSel.value;
    error.textContent = '';
    if (!id) {
      ckInfo.textContent = 'No checkpoints: start trm serve with --runs DIR.';
      return;
    }
    let config = models.get(id);
    if (!config) {
      ckInfo.textContent = 'loading weights...';
      delete ckInfo.dataset.ready;
      const [meta, bytes] = await Promise.all([api.config(id), api.weights(id)]);
      config = await runner.load(id, bytes, meta.config);
      models.set(id, config);
    }
    model = { id, config };
    const c = model.config,
      size = sizeForCells(c.seq_len);
    ckInfo.textContent = `D ${c.hidden_size}, ${c.L_layers} layers, ${c.mlp_t ? 'MLP' : 'attention'}, T ${c.H_cycles}, n ${c.L_cycles}, N_sup ${c.halt_max_steps}; ${size ? `${size}x${size}` : `${c.seq_len} cells`}`;
    ckInfo.dataset.ready = '1';
    if (size && size !== n) setSize(size);
  };
  ckSel.addEventListener('change', () => {
    loadModel().catch(e => {
      error.textContent = (e as Error).message;
    });
  });

  loadBtn.addEventListener('click', async () => {
    try {
      error.textContent = '';
      const page = await api.puzzles(splitSel.value, Number(pIdx.value) || 0, 1);
      const p = page.puzzles[0];
      if (!p) throw new Error(`${splitSel.value} has ${page.total} puzzles`);
      text.value = p.puzzle;
      const s = sizeForCells(p.puzzle.length)!;
      setSize(s, p.puzzle);
      solution = parseGrid(p.solution, geometry(s));
    } catch (e) {
      error.textContent = (e as Error).message;
    }
  });

  const render = (s: number) => {
    step = s;
    const k = runs.length,
      recs = runs.map(r => r[s - 1]);
    let main: Uint8Array, caption: string;
    if (k > 1) {
      const out = aggregate(
        aggSel.value as Agg,
        { boards: recs.map(r => r.grid), q: recs.map(r => r.q_halt) },
        new Int32Array(puzzle.length),
      );
      main = Uint8Array.from(out);
      caption = `${aggSel.value} of ${k} chains, step ${s}`;
    } else {
      main = recs[0].grid;
      caption = `answer after step ${s}`;
    }
    const changed: number[] = k > 1 ? [] : [...recs[0].changed];
    if (k > 1 && s > 1) {
      const pr = runs.map(r => r[s - 2]);
      const before = aggregate(
        aggSel.value as Agg,
        { boards: pr.map(r => r.grid), q: pr.map(r => r.q_halt) },
        new Int32Array(puzzle.length),
      );
      for (let i = 0; i < main.length; i++) if (main[i] !== before[i]) changed.push(i);
    }
    const conf = k > 1 ? undefined : recs[0].conf;
    mainHolder.replaceChildren(board({ grid: main, puzzle, changed, conf, solution, caption }));
    chainsHolder.replaceChildren(
      ...recs.map((r, i) =>
        board({
          grid: r.grid,
          puzzle,
          changed: r.changed,
          conf: r.conf,
          solution,
          small: true,
          caption: `chain ${i}: q_halt ${r.q_halt.toFixed(2)}${r.q_halt > 0 ? ' (halt)' : ''}`,
        }),
      ),
    );
    const g = geometry(n),
      first = recs[0];
    const halt = runs[0].findIndex(r => r.q_halt > 0);
    const problem = solutionProblem(main, g) ?? consistencyProblem(puzzle, main, g);
    status.textContent =
      `Step ${s} of ${runs[0].length}: q_halt ${first.q_halt.toFixed(2)} (${first.q_halt > 0 ? 'would halt' : 'continue'}), ` +
      `${changed.length} cell${changed.length === 1 ? '' : 's'} changed; ${halt >= 0 ? `halting would stop at step ${halt + 1}` : 'q_halt never > 0'}; ` +
      (problem === null ? 'a valid solution' : `not yet valid (${problem})`);
    status.dataset.step = String(s);
    stepIn.value = String(s);
  };

  const drawCharts = async () => {
    const q: Record<string, unknown>[] = [],
      dz: Record<string, unknown>[] = [],
      pts: Float32Array[] = [],
      meta: { chain: number; step: number; latent: string }[] = [];
    runs.forEach((recs, r) => {
      recs.forEach(rec => {
        q.push({
          chain: `chain ${r}`,
          step: rec.step,
          q_halt: rec.q_halt,
          halts: rec.q_halt > 0 ? 'would halt' : 'continue',
        });
        dz.push({ chain: `chain ${r}`, step: rec.step, dz: rec.dz });
        pts.push(rec.y);
        meta.push({ chain: r, step: rec.step, latent: 'y' });
        pts.push(rec.z);
        meta.push({ chain: r, step: rec.step, latent: 'z' });
      });
    });
    const pc = pca2(pts).map((p, i) => ({ ...meta[i], chain: `chain ${meta[i].chain}`, pc1: p.x, pc2: p.y }));
    const base = { width: 260, height: 170, $schema: 'https://vega.github.io/schema/vega-lite/v6.json' } as const;
    const qSpec: TopLevelSpec = {
      ...base,
      title: 'q_halt per step (> 0: would halt)',
      layer: [
        {
          data: { values: q },
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'step', type: 'quantitative', axis: { tickMinStep: 1 } },
            y: { field: 'q_halt', type: 'quantitative' },
            color: { field: 'chain', type: 'nominal' },
            tooltip: [{ field: 'chain' }, { field: 'step' }, { field: 'q_halt', format: '.3f' }],
          },
        },
        {
          data: { values: [{ y: 0 }] },
          mark: { type: 'rule', strokeDash: [4, 3], color: '#c0392b' },
          encoding: { y: { field: 'y', type: 'quantitative' } },
        },
      ],
    };
    const dzSpec: TopLevelSpec = {
      ...base,
      title: '|z_t+1 - z_t| per step',
      data: { values: dz },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'step', type: 'quantitative', axis: { tickMinStep: 1 } },
        y: { field: 'dz', type: 'quantitative', title: '|dz|', scale: { type: 'symlog' } },
        color: { field: 'chain', type: 'nominal' },
        tooltip: [{ field: 'chain' }, { field: 'step' }, { field: 'dz', format: '.4f' }],
      },
    };
    const pcaSpec: TopLevelSpec = {
      ...base,
      title: 'latent trajectory: PCA of y and z',
      data: { values: pc },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'pc1', type: 'quantitative', title: 'PC 1' },
        y: { field: 'pc2', type: 'quantitative', title: 'PC 2' },
        color: { field: 'chain', type: 'nominal' },
        shape: { field: 'latent', type: 'nominal' },
        detail: { field: 'latent' },
        order: { field: 'step' },
        tooltip: [{ field: 'chain' }, { field: 'latent' }, { field: 'step' }],
      },
    };
    await Promise.all([chart(qChart, qSpec), chart(dzChart, dzSpec), chart(pcaChart, pcaSpec)]);
  };

  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    if (solveBtn.disabled) return;
    error.textContent = '';
    try {
      if (!model) await loadModel();
      if (!model) throw new Error('no checkpoint loaded');
      const c = model.config,
        t = ed.get(),
        size = sizeForCells(t.length)!;
      if (t.length !== c.seq_len || c.vocab_size !== vocabSize(size))
        throw new Error(
          `the model was trained on ${c.seq_len}-cell puzzles (vocabulary ${c.vocab_size}); this puzzle has ${t.length} cells`,
        );
      puzzle = parseGrid(t, geometry(size));
      const k = Math.max(1, Math.min(16, Number(kIn.value) || 1)),
        nsup = Math.max(1, Math.min(64, Number(nsupIn.value) || c.halt_max_steps));
      solveBtn.disabled = true;
      playBtn.disabled = true;
      stepIn.disabled = true;
      runs = [];
      timing.textContent = '';
      delete timing.dataset.ms;
      delete status.dataset.done;
      status.textContent = 'running...';
      const t0 = performance.now();
      // records arrive from the worker as it computes; drawing is queued so each is painted in turn
      let drawing = Promise.resolve();
      await runner.run(
        model.id,
        puzzle,
        { n: size, nsup, k, init: initSel.value as 'static' | 'random', seed: Number(seedIn.value) || 0 },
        (r, rec) => {
          drawing = drawing.then(async () => {
            if (!runs[r]) runs[r] = [];
            runs[r].push(rec);
            if (r === 0) {
              // chain 0 animates live; the other chains join when every chain has run
              const saved = runs;
              runs = [saved[0]];
              stepIn.max = String(rec.step);
              render(rec.step);
              runs = saved;
              await frame();
              if (rec.step === 1 && timing.dataset.ms === undefined) {
                const ms = performance.now() - t0;
                timing.dataset.ms = ms.toFixed(1);
                timing.textContent = `first supervision step computed and drawn in ${ms.toFixed(0)} ms (${dev.label.split(' (')[0]})`;
              }
            }
          });
        },
      );
      await drawing;
      stepIn.max = String(nsup);
      stepIn.disabled = false;
      playBtn.disabled = false;
      render(nsup);
      status.dataset.done = '1';
      await drawCharts();
    } catch (e) {
      error.textContent = (e as Error).message;
    } finally {
      solveBtn.disabled = false;
    }
  });
  stepIn.addEventListener('input', () => {
    if (runs.length) render(Number(stepIn.value));
  });
  aggSel.addEventListener('change', () => {
    if (runs.length) render(step);
  });
  playBtn.addEventListener('click', async () => {
    if (playing) {
      playing = false;
      return;
    }
    playing = true;
    playBtn.textContent = 'Pause';
    for (let s = step >= runs[0].length ? 1 : step + 1; playing && s <= runs[0].length; s++) {
      render(s);
      await new Promise(r => setTimeout(r, 700));
    }
    playing = false;
    playBtn.textContent = 'Play';
  });

  if (index.examples?.length) {
    const ex = select(index.examples.map((p, i) => [p, `example ${i + 1}: ${p}`]));
    ex.addEventListener('change', () => {
      text.value = ex.value;
      text.dispatchEvent(new Event('input'));
    });
    text.parentElement!.after(field('Example puzzles', ex, 'examples'));
    text.value = index.examples[0];
    text.dispatchEvent(new Event('input'));
  }
  if (index.checkpoints.length)
    await loadModel().catch(e => {
      error.textContent = (e as Error).message;
    });
  else ckInfo.textContent = 'No checkpoints found: start trm serve with --runs DIR.';
  return () => runner.terminate();
}
