/**
 * training.ts: the Training page. Live curves of a run directory's metrics.jsonl (loss parts,
 * exact / token accuracy, mean supervision steps, lr): the server streams every logged line as a
 * server-sent event, and each new point redraws the charts. A small training (a cpu-* preset on a
 * dataset under --data) can be started and stopped from the page; the server runs `trm train`.
 */
import type { TopLevelSpec } from 'vega-lite';
import { api } from './api.js';
import { chart } from './charts.js';
import { h } from './grid.js';

interface Job {
  run: string;
  state: string;
  code: number | null;
  log: string[];
}

async function post(url: string, body?: unknown): Promise<Job> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-trm-request': '1' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = (await r.json()) as Job & { error?: string };
  if (!r.ok) throw new Error(j.error ?? `${r.status}`);
  return j;
}

export async function trainingPage(root: HTMLElement): Promise<() => void> {
  const index = await api.index();
  const sel = h('select', { id: 'run' });
  const fillRuns = (runs: { id: string }[]) => {
    sel.replaceChildren(...runs.map(r => h('option', { value: r.id }, r.id)));
  };
  fillRuns(index.runs);
  const status = h('p', { id: 'train-status', 'aria-live': 'polite' });
  const charts = [
    h('div', { class: 'chart' }),
    h('div', { class: 'chart' }),
    h('div', { class: 'chart' }),
    h('div', { class: 'chart' }),
  ];
  // start / stop a small training
  const datasets = index.datasets ?? [];
  const dsSel = h('select', { id: 'train-data' });
  for (const d of datasets) dsSel.append(h('option', { value: d }, d));
  const presetSel = h('select', { id: 'train-preset' });
  for (const p of ['cpu-sudoku4', 'cpu-sudoku6', 'cpu-sudoku9']) presetSel.append(h('option', { value: p }, p));
  const stepsIn = h('input', { id: 'train-steps', type: 'number', min: '1', max: '20000', value: '300' });
  const nameIn = h('input', {
    id: 'train-name',
    type: 'text',
    value: `web-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`,
    pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}',
  });
  const startBtn = h('button', { type: 'submit', id: 'train-start', class: 'primary' }, 'Start training');
  const stopBtn = h('button', { type: 'button', id: 'train-stop', disabled: '' }, 'Stop');
  const jobStatus = h('p', { id: 'job-status', 'aria-live': 'polite', class: 'note' });
  const fieldOf = (label: string, el: HTMLElement) =>
    h('div', { class: 'field' }, h('label', { for: el.id }, label), el);
  const form = h(
    'form',
    { class: 'train-form', 'aria-label': 'start a small training' },
    h('h3', {}, 'Start a small training'),
    fieldOf('Dataset (under --data)', dsSel),
    fieldOf('Preset', presetSel),
    fieldOf('Steps', stepsIn),
    fieldOf('Run name (under --runs)', nameIn),
    startBtn,
    stopBtn,
    jobStatus,
  );
  root.replaceChildren(
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Training'),
      index.mode === 'static'
        ? h('p', {}, 'This is a static export: no runs to watch.')
        : h('div', { class: 'field' }, h('label', { for: 'run' }, 'Run directory'), sel),
      status,
      h('div', { class: 'charts' }, ...charts),
      ...(index.mode !== 'static' && datasets.length ? [form] : []),
    ),
  );
  let job: string | null = null,
    poll: ReturnType<typeof setInterval> | null = null;
  const watchJob = () => {
    poll = setInterval(async () => {
      const j = ((await (await fetch('api/train')).json()) as { jobs: Job[] }).jobs.find(x => x.run === job);
      if (!j) return;
      jobStatus.textContent = `${j.run}: ${j.state}${j.code !== null ? ` (exit ${j.code})` : ''}; ${j.log[j.log.length - 1] ?? ''}`;
      jobStatus.dataset.state = j.state;
      if (j.state === 'exited') {
        stopBtn.disabled = true;
        startBtn.disabled = false;
        clearInterval(poll!);
        poll = null;
      }
    }, 1000);
  };
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    try {
      startBtn.disabled = true;
      const j = await post('api/train', {
        data: dsSel.value,
        preset: presetSel.value,
        steps: Number(stepsIn.value),
        name: nameIn.value,
      });
      job = j.run;
      stopBtn.disabled = false;
      jobStatus.textContent = `${j.run}: started`;
      jobStatus.dataset.state = j.state;
      const idx = await api.index();
      fillRuns(idx.runs.some(r => r.id === j.run) ? idx.runs : [...idx.runs, { id: j.run }]);
      sel.value = j.run;
      open();
      watchJob();
    } catch (e) {
      jobStatus.textContent = (e as Error).message;
      startBtn.disabled = false;
    }
  });
  stopBtn.addEventListener('click', async () => {
    if (!job) return;
    try {
      const j = await post(`api/train/${encodeURIComponent(job)}/stop`);
      jobStatus.textContent = `${j.run}: ${j.state}`;
    } catch (e) {
      jobStatus.textContent = (e as Error).message;
    }
  });
  let es: EventSource | null = null;
  const points: Record<string, unknown>[] = [];
  let pending = false;
  const redraw = async () => {
    if (pending) return;
    pending = true;
    await new Promise(r => setTimeout(r, 100));
    pending = false;
    const train = points.filter(p => p.type === 'train'),
      evals = points.filter(p => p.type === 'eval');
    status.textContent = `${train.length} training points, ${evals.length} evaluations; last step ${train.length ? (train[train.length - 1].step as number) : '-'}`;
    status.dataset.points = String(points.length);
    const line = (title: string, values: Record<string, unknown>[], fields: string[], log = false): TopLevelSpec => ({
      width: 300,
      height: 170,
      title,
      data: { values },
      transform: [{ fold: fields, as: ['metric', 'value'] }, { filter: 'isValid(datum.value)' }],
      mark: { type: 'line', point: values.length < 40 },
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'value', type: 'quantitative', scale: log ? { type: 'log' } : {} },
        color: { field: 'metric', type: 'nominal' },
        tooltip: [{ field: 'step' }, { field: 'metric' }, { field: 'value', format: '.4g' }],
      },
    });
    await Promise.all([
      chart(charts[0], line('loss', train, ['lm_loss', 'q_halt_loss'], true)),
      chart(
        charts[1],
        line(
          'accuracy (train and eval)',
          [...train, ...evals.map(e => ({ ...e, eval_exact: e.exact_acc, eval_token: e.token_acc }))],
          ['exact_acc', 'token_acc', 'eval_exact', 'eval_token'],
        ),
      ),
      chart(charts[2], line('mean supervision steps', train, ['mean_steps'])),
      chart(charts[3], line('learning rate', train, ['lr'])),
    ]);
  };
  const open = () => {
    es?.close();
    points.length = 0;
    if (!sel.value) {
      status.textContent = 'No run directories (metrics.jsonl) under --runs.';
      return;
    }
    es = new EventSource(api.metricsUrl(sel.value));
    es.addEventListener('metric', ev => {
      try {
        points.push(JSON.parse((ev as MessageEvent).data as string) as Record<string, unknown>);
      } catch {
        return;
      }
      void redraw();
    });
  };
  sel.addEventListener('change', open);
  if (index.mode !== 'static') open();
  return () => {
    es?.close();
    if (poll) clearInterval(poll);
  };
}
